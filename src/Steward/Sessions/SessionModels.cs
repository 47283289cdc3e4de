using Steward.Agents;

namespace Steward.Sessions;

/// <summary>A conversation with one preset, as listed.</summary>
public sealed record ChatSessionSummary(
    Guid Id, string Title, string Preset, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int RunCount, long TotalTokens, decimal? CostUsd);

/// <summary>One message of a session's history.</summary>
public sealed record SessionMessage(int Sequence, string Role, string Content, DateTimeOffset CreatedAt, Guid? RunId);

/// <summary>One stored run with its progress log.</summary>
public sealed record SessionRun(
    Guid Id, string Preset, string Provider, string Model, string Query, RunStatus Status, DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt, double? DurationMs, double? TimeToFirstTokenMs, RunUsage Usage, decimal? CostUsd, string? Error,
    string? TraceId, IReadOnlyList<SessionRunEvent> Events)
{
    /// <summary>The run's tool calls, in order.</summary>
    public IReadOnlyList<ToolCallProgress> ToolCalls { get; init; } = [];

    /// <summary>The sources of the answer, by number.</summary>
    public IReadOnlyList<Tools.Citation> Citations { get; init; } = [];
}

/// <summary>A progress-log entry of a stored run.</summary>
public sealed record SessionRunEvent(int Sequence, RunStage Stage, string Message, DateTimeOffset Timestamp);

/// <summary>A session with everything in it.</summary>
public sealed record ChatSessionDetail(ChatSessionSummary Summary, IReadOnlyList<SessionMessage> Messages, IReadOnlyList<SessionRun> Runs);

/// <summary>No session with that id.</summary>
public sealed class SessionNotFoundException : Exception
{
    public SessionNotFoundException(Guid id) : base($"No session with id {id}. List sessions with 'steward sessions list'.") => SessionId = id;

    public SessionNotFoundException() { }

    public SessionNotFoundException(string message) : base(message) { }

    public SessionNotFoundException(string message, Exception innerException) : base(message, innerException) { }

    public Guid SessionId { get; }
}
