using System.Text.Json.Serialization;
using Steward.Agents;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>What <c>POST /api/runs</c> takes: an agent preset and a message, optionally continuing a session.</summary>
/// <param name="Agent">The agent preset to run (<c>GET /api/agents</c> is not needed: the presets are the names in <c>agents/</c>).</param>
/// <param name="Message">The user's message.</param>
/// <param name="SessionId">Continue this session (it must be a conversation with the same agent); leave out to start one.</param>
/// <param name="Provider">Use this configured provider instead of the preset's.</param>
/// <param name="Model">Use this model instead of the preset's or the provider's default.</param>
/// <param name="MaxOutputTokens">Output cap for each model call of the run.</param>
/// <param name="Tags">Labels for filtering and cost by tag (at most 20, each at most 64 characters).</param>
/// <param name="UserId">Whom the run is for (your application's user id), for filtering and cost by user.</param>
internal sealed record StartRunRequest(
    string? Agent, string? Message, Guid? SessionId = null, string? Provider = null, string? Model = null, int? MaxOutputTokens = null,
    IReadOnlyList<string>? Tags = null, string? UserId = null);

/// <summary>Where to follow a run: its result, its progress events (SSE), its cancel, its trace.</summary>
internal sealed record RunLinks(string Self, string Events, string Cancel, string Trace)
{
    public static RunLinks For(Guid id) => new($"/api/runs/{id}", $"/api/runs/{id}/events", $"/api/runs/{id}/cancel", $"/api/runs/{id}/trace");
}

/// <summary>The answer to <c>POST /api/runs</c> (202): the run is stored and running.</summary>
internal sealed record RunAccepted(Guid Id, Guid? SessionId, RunStatus Status, RunLinks Links);

/// <summary>Tokens of a run or so far; cached input is part of input, reasoning part of output.</summary>
internal sealed record ApiUsage(long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens, long TotalTokens)
{
    public static ApiUsage From(RunUsage usage) => new(usage.InputTokens, usage.CachedInputTokens, usage.OutputTokens, usage.ReasoningTokens, usage.TotalTokens);
}

/// <summary>A cost: <see cref="Usd"/> is <see langword="null"/> when the model has no price (unknown, never free).</summary>
internal sealed record ApiCost(decimal? Usd, bool Priced, bool SelfHosted)
{
    public static ApiCost From(RunCost cost) => new(cost.Usd, cost.IsPriced, cost.SelfHosted);
}

/// <summary>A run's outcome: <c>GET /api/runs/{id}</c>, and the last event of its stream.</summary>
internal sealed record RunResult
{
    public required Guid Id { get; init; }
    public Guid? SessionId { get; init; }
    public required string Agent { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public string? Query { get; init; }
    public required RunStatus Status { get; init; }

    /// <summary>The answer of a completed run; <see langword="null"/> while it runs and when it did not complete.</summary>
    public string? Answer { get; init; }

    /// <summary>What was streamed before a run failed or was cancelled (never the answer).</summary>
    public string? PartialAnswer { get; init; }

    public string? FinishReason { get; init; }

    /// <summary>What the provider reported that cannot be right (more output than the cap it was sent); the usage is kept as reported.</summary>
    public string? Anomaly { get; init; }

    /// <summary>The provider reported no usage: the tokens and the cost priced from them are Steward's own count.</summary>
    public bool UsageEstimated { get; init; }

    public required ApiUsage Usage { get; init; }
    public required ApiCost Cost { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public double? DurationMs { get; init; }
    public double? TimeToFirstTokenMs { get; init; }

    /// <summary>Why the run did not complete.</summary>
    public string? Error { get; init; }

    /// <summary>The stable code of <see cref="Error"/> (<c>budget_exceeded</c>, <c>provider_timeout</c>…), when known.</summary>
    public string? ErrorCode { get; init; }

    public string? TraceId { get; init; }
    public IReadOnlyList<ToolCallProgress> ToolCalls { get; init; } = [];
    public IReadOnlyList<Steward.Tools.Citation> Citations { get; init; } = [];

    /// <summary>The answer's quality, once scored (after delivery); <see langword="null"/> until then or when it is not scored.</summary>
    public QualityResult? Quality { get; init; }

    /// <summary>The answer is being scored in the background.</summary>
    public bool EvaluationPending { get; init; }

    public Evaluation.RunFeedback? Feedback { get; init; }
    public required RunLinks Links { get; init; }

    public static RunResult From(AgentResponse response) => new()
    {
        Id = response.RunId,
        SessionId = response.SessionId,
        Agent = response.Preset,
        Provider = response.Provider,
        Model = response.Model,
        Status = response.Status,
        Answer = response.Status == RunStatus.Completed ? response.Text : null,
        PartialAnswer = response.PartialText,
        FinishReason = response.FinishReason,
        Anomaly = response.Anomaly,
        UsageEstimated = response.UsageEstimated,
        Usage = ApiUsage.From(response.Usage),
        Cost = ApiCost.From(response.Cost),
        StartedAt = response.StartedAt,
        EndedAt = response.EndedAt,
        DurationMs = response.Duration.TotalMilliseconds,
        TimeToFirstTokenMs = response.TimeToFirstToken?.TotalMilliseconds,
        Error = response.Error?.Message,
        ErrorCode = response.Error?.Code,
        TraceId = response.TraceId,
        ToolCalls = response.ToolCalls,
        Citations = response.Citations,
        Quality = response.Quality,
        EvaluationPending = response.EvaluationPending && response.Quality is null,
        Links = RunLinks.For(response.RunId),
    };

    /// <summary>The stored run, as History shows it.</summary>
    public static RunResult From(ChatSessionDetail session, SessionRun run, QualityResult? quality, bool evaluationPending) => new()
    {
        Id = run.Id,
        SessionId = session.Summary.Id,
        Agent = run.Preset,
        Provider = run.Provider,
        Model = run.Model,
        Query = run.Query,
        Status = run.Status,
        Answer = run.Status == RunStatus.Completed
            ? session.Messages.LastOrDefault(m => m.RunId == run.Id && m.Role == "assistant")?.Content ?? ""
            : null,
        PartialAnswer = run.PartialAnswer,
        FinishReason = run.FinishReason,
        Anomaly = run.Anomaly,
        UsageEstimated = run.UsageEstimated,
        Usage = ApiUsage.From(run.Usage),
        Cost = ApiCost.From(run.Cost),
        StartedAt = run.StartedAt,
        EndedAt = run.EndedAt,
        DurationMs = run.DurationMs,
        TimeToFirstTokenMs = run.TimeToFirstTokenMs,
        Error = run.Error,
        TraceId = run.TraceId,
        ToolCalls = run.ToolCalls,
        Citations = run.Citations,
        Quality = quality,
        EvaluationPending = evaluationPending && quality is null,
        Feedback = run.Feedback,
        Links = RunLinks.For(run.Id),
    };
}

/// <summary>Metrics so far, on every progress event.</summary>
internal sealed record ApiRunMetrics(ApiUsage Usage, ApiCost? Cost, double ElapsedMs, double? TimeToFirstTokenMs)
{
    public static ApiRunMetrics From(RunMetrics metrics) => new(
        ApiUsage.From(metrics.Usage), metrics.Cost is { } cost ? ApiCost.From(cost) : null, metrics.Elapsed.TotalMilliseconds, metrics.TimeToFirstToken?.TotalMilliseconds);
}

/// <summary>Which events a stream skipped: indexes <see cref="From"/> to <see cref="To"/>, both included.</summary>
internal sealed record ApiEventGap(int From, int To);

/// <summary>A function the request's model called that the caller must run (not one of Steward's tools).</summary>
internal sealed record ApiFunctionCall(string CallId, string Name, IDictionary<string, object?>? Arguments);

/// <summary>
/// One server-sent event of <c>GET /api/runs/{id}/events</c>: the same progress the Chat page shows. The SSE event
/// name says which field is set: <c>stage</c> (a stage or a note), <c>delta</c> (answer text), <c>tool_call</c>,
/// <c>function_call</c>, <c>quality</c>, and last <c>done</c> or <c>failed</c> with <see cref="Result"/>.
/// </summary>
internal sealed record ApiRunEvent(
    Guid RunId, RunStage Stage, string Message, DateTimeOffset Timestamp, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ApiRunMetrics? Metrics)
{
    // Only the field the event's name announces is sent.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Delta { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ToolCallProgress? ToolCall { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiFunctionCall? FunctionCall { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QualityResult? Quality { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RunResult? Result { get; init; }

    /// <summary>On a <c>gap</c> event: the events this stream will not send (dropped from memory before it got them).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiEventGap? Gap { get; init; }

    public const string StageEvent = "stage";
    public const string DeltaEvent = "delta";
    public const string ToolCallEvent = "tool_call";
    public const string FunctionCallEvent = "function_call";
    public const string QualityEvent = "quality";
    public const string DoneEvent = "done";
    public const string FailedEvent = "failed";
    public const string GapEvent = "gap";

    /// <summary>The <c>gap</c> event: events <paramref name="from"/> to <paramref name="to"/> of run <paramref name="runId"/> are gone.</summary>
    public static ApiRunEvent Missed(Guid runId, int from, int to, DateTimeOffset now) => new(runId, RunStage.Running, string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"Events {from} to {to} of this run were dropped before this stream sent them (Steward:Api:EventBufferBytesPerRun and EventBufferBytes cap the memory they take); the stream goes on from event {to + 1}. The done or failed event carries the whole result, as GET /api/runs/{runId} does once the run ends."),
        now, null) { Gap = new ApiEventGap(from, to) };

    /// <summary>The SSE event name of <paramref name="progress"/> and its payload.</summary>
    public static (string Name, ApiRunEvent Data) From(RunProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var data = new ApiRunEvent(progress.RunId, progress.Stage, progress.Message, progress.Timestamp, ApiRunMetrics.From(progress.Metrics))
        {
            Delta = progress.TextDelta,
            ToolCall = progress.ToolCall,
            FunctionCall = progress.FunctionCall is { } f ? new ApiFunctionCall(f.CallId, f.Name, f.Arguments) : null,
            Quality = progress.Quality,
            Result = progress.Response is { } r ? RunResult.From(r) : null,
        };
        var name = progress.IsTerminal ? Terminal(progress.Stage)
            : progress.TextDelta is not null ? DeltaEvent
            : progress.ToolCall is not null ? ToolCallEvent
            : progress.FunctionCall is not null ? FunctionCallEvent
            : progress.Quality is not null ? QualityEvent
            : StageEvent;
        return (name, data);
    }

    public static string Terminal(RunStage stage) => stage == RunStage.Completed ? DoneEvent : FailedEvent;

    public static string Terminal(RunStatus status) => status == RunStatus.Completed ? DoneEvent : FailedEvent;
}
