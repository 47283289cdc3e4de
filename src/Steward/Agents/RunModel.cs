using System.Text.Json.Serialization;

namespace Steward.Agents;

/// <summary>The pipeline's stages, in order; the last four are terminal.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStage>))]
public enum RunStage
{
    Initializing,
    CheckingBudget,
    Running,
    Evaluating,
    Completed,
    Failed,
    Cancelled,
    BudgetExceeded,
}

/// <summary>A stored run's status.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))]
public enum RunStatus
{
    Running,
    Completed,
    Failed,
    Cancelled,
    BudgetExceeded,

    /// <summary>The process running it stopped (crash, kill, power loss) before it finished.</summary>
    Interrupted,
}

/// <summary>What a request asks of the runner.</summary>
public sealed record RunRequest
{
    /// <summary>The preset to run.</summary>
    public required string Preset { get; init; }

    /// <summary>The user's message.</summary>
    public required string Query { get; init; }

    /// <summary>Continue this session; <see langword="null"/> starts a new one.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>Use this provider instead of the preset's or the default.</summary>
    public string? Provider { get; init; }

    /// <summary>Use this model instead of the preset's or the provider's default.</summary>
    public string? Model { get; init; }

    /// <summary>Output cap for this request; <see langword="null"/> uses the preset's.</summary>
    public int? MaxOutputTokens { get; init; }
}

/// <summary>Token counts of one run. Cached input is part of input; reasoning is part of output.</summary>
public sealed record RunUsage(long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens)
{
    public static RunUsage Zero { get; } = new(0, 0, 0, 0);

    /// <summary>Input plus output.</summary>
    public long TotalTokens => InputTokens + OutputTokens;
}

/// <summary>
/// What a run cost. <see cref="Usd"/> is <see langword="null"/> when the model has no price (unpriced is never
/// shown as free); self-hosted models cost 0 and say so.
/// </summary>
public sealed record RunCost(decimal? Usd, bool SelfHosted = false)
{
    /// <summary>The model has no known price.</summary>
    public static RunCost Unpriced { get; } = new((decimal?)null);

    /// <summary>Whether a price was found.</summary>
    public bool IsPriced => Usd is not null;
}

/// <summary>Metrics so far, carried by every progress event.</summary>
public sealed record RunMetrics(RunUsage Usage, TimeSpan Elapsed, TimeSpan? TimeToFirstToken, RunCost? Cost);

/// <summary>A tool call the agent made, as shown in progress.</summary>
public sealed record ToolCallProgress(string CallId, string Name, bool Completed);

/// <summary>A machine-readable error: a stable code and a message fit to show a person.</summary>
public sealed record RunError(string Code, string Message);

/// <summary>
/// One step of a run, sent to whoever listens (UI, CLI, SSE). Text deltas arrive as <see cref="RunStage.Running"/>
/// events with <see cref="TextDelta"/> set; the terminal event carries the <see cref="Response"/>.
/// </summary>
public sealed record RunProgress(Guid RunId, RunStage Stage, string Message, DateTimeOffset Timestamp, RunMetrics Metrics)
{
    public string? TextDelta { get; init; }
    public ToolCallProgress? ToolCall { get; init; }
    public AgentResponse? Response { get; init; }

    /// <summary>Whether this is the run's last event.</summary>
    public bool IsTerminal => Stage is RunStage.Completed or RunStage.Failed or RunStage.Cancelled or RunStage.BudgetExceeded;
}

/// <summary>A quality score and its parts, as evaluation reports it.</summary>
public sealed record QualityResult(double Score, bool Passed, IReadOnlyList<QualityMetric> Metrics);

/// <summary>One evaluation metric with its reason.</summary>
public sealed record QualityMetric(string Name, double? Value, string Reason);

/// <summary>The outcome of one agent run.</summary>
public sealed record AgentResponse
{
    public required Guid RunId { get; init; }
    public Guid? SessionId { get; init; }
    public required RunStatus Status { get; init; }
    public required string Preset { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public string Text { get; init; } = "";
    public RunUsage Usage { get; init; } = RunUsage.Zero;
    public RunCost Cost { get; init; } = RunCost.Unpriced;
    public TimeSpan Duration { get; init; }
    public TimeSpan? TimeToFirstToken { get; init; }
    public QualityResult? Quality { get; init; }
    public IReadOnlyList<string> Citations { get; init; } = [];
    public IReadOnlyList<ToolCallProgress> ToolCalls { get; init; } = [];
    public string? TraceId { get; init; }

    /// <summary>The answer came from the response cache: no tokens were used and it cost nothing.</summary>
    public bool FromCache { get; init; }

    public RunError? Error { get; init; }
}
