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

/// <summary>
/// What a request asks of the runner: a preset, and either a question in a session (the stored history comes first;
/// without <see cref="SessionId"/> a new session starts) or a whole conversation in <see cref="Messages"/> (stateless,
/// as the gateway sends it; it is stored as a session of its own).
/// </summary>
public sealed record RunRequest
{
    /// <summary>The preset to run.</summary>
    public required string Preset { get; init; }

    /// <summary>The user's message, added to the session's history.</summary>
    public string Query { get; init; } = "";

    /// <summary>The whole conversation, last message the user's; set instead of <see cref="Query"/> (and without <see cref="SessionId"/>).</summary>
    public IReadOnlyList<Microsoft.Extensions.AI.ChatMessage>? Messages { get; init; }

    /// <summary>Continue this session; <see langword="null"/> starts a new one.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>Use this provider instead of the preset's or the default.</summary>
    public string? Provider { get; init; }

    /// <summary>Use this model instead of the preset's or the provider's default.</summary>
    public string? Model { get; init; }

    /// <summary>Output cap for each model call of this request; <see langword="null"/> uses the preset's, else <c>Steward:Budgets:DefaultMaxOutputTokens</c>.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Chat options passed through to every model call (temperature, tools, response format…), over the preset's.</summary>
    public Microsoft.Extensions.AI.ChatOptions? Options { get; init; }

    /// <summary>Why the run is made; a dataset case is <see cref="Calls.ModelCallPurpose.Eval"/>.</summary>
    public Calls.ModelCallPurpose Purpose { get; init; } = Calls.ModelCallPurpose.Agent;

    /// <summary>What evaluation should expect of this answer beyond the preset (e.g. a dataset case's topics).</summary>
    public Evaluation.EvaluationHints? Evaluation { get; init; }

    /// <summary>
    /// Who approves tool calls that need approval (Chat's buttons, the terminal); <see langword="null"/> (eval, the
    /// gateway, a non-interactive command) denies them, and the model is told.
    /// </summary>
    public Tools.IToolApprover? Approver { get; init; }

    /// <summary>
    /// Call <see cref="Provider"/> and <see cref="Model"/> directly, without a preset (the gateway's <c>PROVIDER/MODEL</c>):
    /// no instructions, no tools of Steward's, no evaluation; still budgeted, priced, traced and stored as a run named
    /// <see cref="Preset"/>.
    /// </summary>
    public bool PassThrough { get; init; }

    /// <summary>
    /// Store the run behind the answer (the gateway): nothing is written before the model is called, and the whole run is
    /// queued as one write once it ends, without waiting for it (at most a bounded number wait; then the caller does). A
    /// crash can lose the runs whose write was still queued, never half of one.
    /// </summary>
    public bool WriteBehind { get; init; }

    /// <summary>
    /// The caller takes the answer whole (a non-streaming gateway request): a <see cref="PassThrough"/> run then asks the
    /// provider for a whole answer rather than a stream it would reassemble. Progress events still arrive; the text comes
    /// as one delta.
    /// </summary>
    public bool WholeAnswer { get; init; }

    /// <summary>The gateway key the request was made with, stored with the run for usage by key.</summary>
    public string? ApiKeyId { get; init; }

    /// <summary>The caller's labels for the run (at most <see cref="RunMetadata.MaxTags"/>), stored with it and filterable in History, Traces and Analytics.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Who the run is for (the caller's own id for its user, not a Steward account); <see langword="null"/> when not given.</summary>
    public string? UserId { get; init; }

    /// <summary>The budgets of that key (a budget scope of its own), checked on every model call of the run.</summary>
    public IReadOnlyList<Budgets.BudgetPolicy> ApiKeyBudgets { get; init; } = [];
}

/// <summary>The stable codes of <see cref="RunError.Code"/>. Scripts and the CLI's exit codes rely on them.</summary>
public static class RunErrorCodes
{
    public const string Cancelled = "cancelled";
    public const string BudgetExceeded = "budget_exceeded";
    public const string PresetNotFound = "preset_not_found";
    public const string PresetInvalid = "preset_invalid";
    public const string SessionNotFound = "session_not_found";
    public const string ProviderNotConfigured = "provider_not_configured";
    public const string InvalidRequest = "invalid_request";
    public const string ContextWindowExceeded = "context_window_exceeded";
    public const string Internal = "internal_error";

    /// <summary>Provider failures are <c>provider_</c> + the failure kind in snake case (<c>provider_rate_limited</c>, <c>provider_incomplete</c>…).</summary>
    public const string ProviderPrefix = "provider_";

    /// <summary>The code of a provider failure of <paramref name="kind"/>.</summary>
    public static string Provider(Providers.ProviderFailureKind kind) =>
        ProviderPrefix + System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString());

    /// <summary>Whether <paramref name="code"/> is a provider failure's.</summary>
    public static bool IsProvider(string code) => code.StartsWith(ProviderPrefix, StringComparison.Ordinal) && code != ProviderNotConfigured;
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

/// <summary>
/// A tool call the agent made, as shown live and stored with the run: sent once when the call starts (with its
/// arguments) and again when it ends (with a preview of its result, or its error, and how long it took).
/// </summary>
public sealed record ToolCallProgress(string CallId, string Name, bool Completed)
{
    /// <summary>The arguments as JSON, shortened.</summary>
    public string? Arguments { get; init; }

    /// <summary>The first characters of what it returned.</summary>
    public string? ResultPreview { get; init; }

    /// <summary>Why it failed (what the model was told), or <see langword="null"/>.</summary>
    public string? Error { get; init; }

    /// <summary>How long it ran.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary><c>approved</c> or <c>denied</c> when it needed approval.</summary>
    public string? Approval { get; init; }

    /// <summary>The MCP server of the tool, if any.</summary>
    public string? Server { get; init; }

    /// <summary>When it started.</summary>
    public DateTimeOffset? StartedAt { get; init; }
}

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

    /// <summary>A tool call waiting for a person's approval (answer through the run's <see cref="RunRequest.Approver"/>).</summary>
    public Tools.ToolApprovalRequest? Approval { get; init; }

    public AgentResponse? Response { get; init; }

    /// <summary>The model called a function the request declared (not one of Steward's tools): the caller runs it.</summary>
    public Microsoft.Extensions.AI.FunctionCallContent? FunctionCall { get; init; }

    /// <summary>The answer's quality, on the <see cref="RunStage.Evaluating"/> event that reports it.</summary>
    public QualityResult? Quality { get; init; }

    /// <summary>Whether this is the run's last event.</summary>
    public bool IsTerminal => Stage is RunStage.Completed or RunStage.Failed or RunStage.Cancelled or RunStage.BudgetExceeded;
}

/// <summary>
/// A quality score and its parts, as evaluation reports it. <see cref="Score"/> is 0–100, the weighted mean of the
/// conclusive metrics' normalized scores; <see cref="Passed"/> compares it with <see cref="PassThreshold"/>.
/// </summary>
public sealed record QualityResult(double Score, bool Passed, IReadOnlyList<QualityMetric> Metrics)
{
    /// <summary>The score an answer needs to pass (the preset's <c>pass_threshold</c>, else the configured default).</summary>
    public double PassThreshold { get; init; }

    /// <summary>What the judge model used and cost, apart from the answer's own usage; <see langword="null"/> without a judge.</summary>
    public EvaluationCost? JudgeCost { get; init; }

    /// <summary>Why evaluation could not finish (the answer stands); <see langword="null"/> when it did.</summary>
    public string? Error { get; init; }

    /// <summary>How long evaluation took.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>One line for the progress log.</summary>
    public string Describe() => Error is { } error && Metrics.Count == 0
        ? "Evaluation failed: " + error
        : FormattableString.Invariant($"Quality {Score:0.#}/100 ({Verdict}).");

    /// <summary>
    /// Whether it passed, in words. A score at or above the mark that did not pass is an answer cut off at the output cap
    /// (an incomplete answer never passes), which "below the pass mark" would misstate.
    /// </summary>
    public string Verdict => Passed
        ? FormattableString.Invariant($"passed the pass mark of {PassThreshold:0.#}")
        : Score >= PassThreshold
            ? "not passed: the answer was cut off at the output cap"
            : FormattableString.Invariant($"below the pass mark of {PassThreshold:0.#}");
}

/// <summary>
/// One evaluation metric: its value in the evaluator's own scale, the reason, and how it was interpreted.
/// <see cref="NormalizedScore"/> (0–1) is what enters the quality score; <see langword="null"/> when the metric is
/// inconclusive (e.g. a judge's malformed verdict), and it is then left out of the score.
/// </summary>
public sealed record QualityMetric(string Name, double? Value, string Reason)
{
    /// <summary>The evaluator that produced it (its registered name).</summary>
    public string Evaluator { get; init; } = "";

    /// <summary>The value mapped to 0–1, or <see langword="null"/> when it does not count towards the score.</summary>
    public double? NormalizedScore { get; init; }

    /// <summary>The metric's weight in the score (the preset's <c>weights</c>, default 1).</summary>
    public double Weight { get; init; } = 1;

    /// <summary>The rating (Exceptional, Good, Average, Poor, Unacceptable, Inconclusive), or <see langword="null"/>.</summary>
    public string? Rating { get; init; }

    /// <summary>Whether the interpretation judged the metric a failure.</summary>
    public bool Failed { get; init; }

    /// <summary>Why the metric was rated so.</summary>
    public string? Interpretation { get; init; }

    /// <summary>Problems met while computing it (e.g. a malformed judge verdict).</summary>
    public IReadOnlyList<string> Diagnostics { get; init; } = [];
}

/// <summary>Tokens and cost of the judge model during one evaluation.</summary>
public sealed record EvaluationCost(string Provider, string Model, RunUsage Usage, RunCost Cost);

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

    /// <summary>When the run was stored as started; <see langword="null"/> for a run refused before it was stored.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the run ended, as stored; <see langword="null"/> for a run refused before it was stored.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    public TimeSpan? TimeToFirstToken { get; init; }
    public QualityResult? Quality { get; init; }
    /// <summary>The sources the run's tools returned (or the provider's search cited), numbered as the model saw them.</summary>
    public IReadOnlyList<Tools.Citation> Citations { get; init; } = [];
    public IReadOnlyList<ToolCallProgress> ToolCalls { get; init; } = [];
    public string? TraceId { get; init; }

    /// <summary>The answer came from the response cache: no tokens were used and it cost nothing.</summary>
    public bool FromCache { get; init; }

    public RunError? Error { get; init; }

    /// <summary>What was streamed before a run failed or was cancelled: kept as partial, never as the answer.</summary>
    public string? PartialText { get; init; }

    /// <summary>Why the model stopped its last call (<c>stop</c>, <c>length</c>: cut at the output cap, <c>tool_calls</c>…).</summary>
    public string? FinishReason { get; init; }

    /// <summary>Some usage was counted by Steward because the provider reported none.</summary>
    public bool UsageEstimated { get; init; }

    /// <summary>What a provider did that it should not have (e.g. reported more output than the cap it was sent).</summary>
    public string? Anomaly { get; init; }

    /// <summary>Every model call the run made, in order.</summary>
    public IReadOnlyList<Calls.ModelCall> Calls { get; init; } = [];

    /// <summary>Calls of functions the request declared, for the caller to run and answer in its next request (finish reason <c>tool_calls</c>).</summary>
    public IReadOnlyList<Microsoft.Extensions.AI.FunctionCallContent> FunctionCalls { get; init; } = [];

    /// <summary>The answer is being scored in the background; its quality arrives later (<see cref="AgentRunner.WaitForQualityAsync"/>).</summary>
    public bool EvaluationPending { get; init; }
}
