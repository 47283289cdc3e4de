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

    /// <summary>Text streamed before the run failed or was cancelled: kept and shown, never taken as the answer.</summary>
    public string? PartialAnswer { get; init; }

    /// <summary>Why the last model call stopped (<c>length</c> marks a cut-off answer).</summary>
    public string? FinishReason { get; init; }

    /// <summary>The provider reported no usage: the tokens are Steward's own count with the model's tokenizer.</summary>
    public bool UsageEstimated { get; init; }

    /// <summary>What a provider reported that cannot be right (more output than the cap it was sent), kept as reported.</summary>
    public string? Anomaly { get; init; }

    /// <summary>Every model call ran on a self-hosted model, so a cost of zero is real, not unknown.</summary>
    public bool SelfHosted { get; init; }

    /// <summary>A person's rating of the answer, if someone gave one.</summary>
    public Evaluation.RunFeedback? Feedback { get; init; }

    /// <summary>What the run's cost is, as <see cref="AgentResponse.Cost"/> says it for a live run.</summary>
    public RunCost Cost => new(CostUsd, SelfHosted);

    /// <summary>The caller's labels of the run.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Who the run was made for, when the caller said.</summary>
    public string? UserId { get; init; }
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
