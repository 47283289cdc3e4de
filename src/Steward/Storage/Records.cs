namespace Steward.Storage;

// Persistence shapes. They stay inside the engine; callers see the records in Sessions/ and Agents/.

internal sealed class SessionRecord
{
    public Guid Id { get; set; }
    public string Title { get; set; } = "";
    public string PresetName { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }

    /// <summary>The provider-side conversation the session continues in (a Foundry conversation id), if any.</summary>
    public string? ProviderConversationId { get; set; }

    // The session's summary, kept by the database's triggers in the transaction of each write to its runs, evaluations
    // and feedback (see RunRollupRecord): History filters, sorts and pages on these columns instead of adding up every
    // session's runs. EF Core never writes them (StewardDbContext), so no stale copy can overwrite them.

    /// <summary>Runs in the session.</summary>
    public int RunCount { get; set; }

    /// <summary>Of which made by <c>steward eval</c> (purpose <c>eval</c>).</summary>
    public int EvalRuns { get; set; }

    /// <summary>Input plus output tokens of its runs.</summary>
    public long Tokens { get; set; }

    /// <summary>Runs that have a price.</summary>
    public int PricedRuns { get; set; }

    /// <summary>Runs that used tokens but have no price.</summary>
    public int UnpricedRuns { get; set; }

    /// <summary>The priced runs' cost, in nano-USD (0 when none is priced).</summary>
    public long CostNanoUsd { get; set; }

    /// <summary>The sum of its answers' quality scores.</summary>
    public double ScoreSum { get; set; }

    /// <summary>Answers scored.</summary>
    public int Scored { get; set; }

    /// <summary>Answers rated up.</summary>
    public int FeedbackUp { get; set; }

    /// <summary>Answers rated down.</summary>
    public int FeedbackDown { get; set; }

    public List<MessageRecord> Messages { get; set; } = [];
    public List<RunRecord> Runs { get; set; } = [];
}

internal sealed class MessageRecord
{
    public long Id { get; set; }
    public Guid SessionId { get; set; }
    public Guid? RunId { get; set; }
    public int Sequence { get; set; }
    public string Role { get; set; } = "";
    public string Content { get; set; } = "";
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// A run. What it is from its start (session, preset, query, start time, purpose, key, user) is init-only: the run writer
/// stores it with the run's start and leaves it out of the update that stores the run's end.
/// </summary>
internal sealed class RunRecord
{
    public Guid Id { get; set; }
    public Guid SessionId { get; init; }
    public string PresetName { get; init; } = "";
    public string PresetVersion { get; init; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public string Query { get; init; } = "";
    public string Status { get; set; } = "";
    public DateTime StartedAt { get; init; }
    public DateTime? EndedAt { get; set; }
    public double? DurationMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }
    public long InputTokens { get; set; }
    public long CachedInputTokens { get; set; }
    public long OutputTokens { get; set; }
    public long ReasoningTokens { get; set; }

    /// <summary>Cost in billionths of a USD: exact, and summable in SQL (SQLite cannot sum decimals).</summary>
    public long? CostNanoUsd { get; set; }

    public string? Error { get; set; }
    public string? ErrorKind { get; set; }
    public string? TraceId { get; set; }

    /// <summary>Served from the response cache (usage and cost zero).</summary>
    public bool FromCache { get; set; }

    /// <summary>Why the run was made: <c>agent</c> (chat, ask), <c>eval</c> (a dataset case) or <c>gateway</c>.</summary>
    public string Purpose { get; init; } = "agent";

    /// <summary>Some of the run's usage was counted by Steward because the provider reported none.</summary>
    public bool UsageEstimated { get; set; }

    /// <summary>Why the last model call stopped (<c>stop</c>, <c>length</c>…), so a cut-off answer can be told apart.</summary>
    public string? FinishReason { get; set; }

    /// <summary>What a provider did that it should not have (e.g. more output than the cap it was sent).</summary>
    public string? Anomaly { get; set; }

    /// <summary>Text streamed before a run failed or was cancelled: kept, but never taken as the answer.</summary>
    public string? PartialAnswer { get; set; }

    /// <summary>
    /// Where scoring stands: <see langword="null"/> (no evaluators), <c>pending</c>, <c>scored</c> or <c>skipped</c>
    /// (the queue was full, or the process ended first).
    /// </summary>
    public string? EvaluationStatus { get; set; }

    /// <summary>The lease of the process running it, so a live process can tell a crashed run from a live one.</summary>
    public string Owner { get; set; } = "";

    /// <summary>
    /// When someone asked to cancel the run through an instance that is not running it; the owner polls for this and
    /// cancels its run. <see langword="null"/> when nobody asked.
    /// </summary>
    public DateTime? CancelRequestedAt { get; set; }

    /// <summary>The gateway key the run was made with (<see cref="ApiKeyRecord.Id"/>), for usage by key; <see langword="null"/> otherwise.</summary>
    public string? ApiKeyId { get; init; }

    /// <summary>Who the run was made for (the caller's own user id: Chat's, <c>ask --user</c>, the gateway's <c>user</c>); <see langword="null"/> when not given.</summary>
    public string? UserId { get; init; }

    /// <summary>The caller's labels of the run (<c>ask --tag</c>, the gateway's <c>metadata</c>, <c>eval</c> for dataset cases).</summary>
    public List<RunTagRecord> Tags { get; set; } = [];

    public List<RunEventRecord> Events { get; set; } = [];

    public List<ModelCallRecord> Calls { get; set; } = [];

    public List<ToolCallRecord> ToolCalls { get; set; } = [];

    public List<CitationRecord> Citations { get; set; } = [];

    /// <summary>What a person said of the answer (thumbs up or down, a comment); none until someone rates it.</summary>
    public FeedbackRecord? Feedback { get; set; }
}

/// <summary>One label of a run; a run has each tag at most once.</summary>
internal sealed class RunTagRecord
{
    public Guid RunId { get; set; }

    public string Tag { get; set; } = "";
}

/// <summary>A person's rating of one run's answer: +1 or -1, with an optional comment. Keyed by run.</summary>
internal sealed class FeedbackRecord
{
    public const int MaxCommentLength = 2000;

    public Guid RunId { get; set; }

    /// <summary>+1 (thumbs up) or -1 (thumbs down).</summary>
    public int Rating { get; set; }

    public string? Comment { get; set; }

    /// <summary>Where it was given: <c>web</c>, <c>cli</c>, <c>api</c> or <c>import</c>.</summary>
    public string Source { get; set; } = "";

    public DateTime GivenAt { get; set; }
}

/// <summary>One tool call of a run: what was called with what, how it ended. Keyed by run and order.</summary>
internal sealed class ToolCallRecord
{
    public Guid RunId { get; set; }
    public int Sequence { get; set; }
    public string CallId { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Server { get; set; }
    public string? Arguments { get; set; }
    public string? ResultPreview { get; set; }
    public string? Error { get; set; }
    public double? DurationMs { get; set; }
    public string? Approval { get; set; }
    public DateTime? StartedAt { get; set; }
}

/// <summary>One source of a run's answer, by its number in the run.</summary>
internal sealed class CitationRecord
{
    public Guid RunId { get; set; }
    public int Number { get; set; }
    public string Url { get; set; } = "";
    public string Title { get; set; } = "";
    public string? Snippet { get; set; }
    public string Source { get; set; } = "";
    public DateTime? PublishedAt { get; set; }
    public int? StartIndex { get; set; }
    public int? EndIndex { get; set; }
}

/// <summary>
/// One model call: what it was for, what it used and cost, how it ended. A run's totals are the sum of its calls. Keyed
/// by run, purpose and order (a judge numbers its calls apart from the agent's), and stored clustered on that key.
/// </summary>
internal sealed class ModelCallRecord
{
    public Guid RunId { get; set; }
    public string Purpose { get; set; } = "";
    public int Sequence { get; set; }

    /// <summary>The call's own id (exported; not a key).</summary>
    public Guid Id { get; set; }

    /// <summary>The preset the call was made for (for a judge: the preset of the answer it scored).</summary>
    public string? PresetName { get; set; }

    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public string? ResponseModel { get; set; }
    public DateTime StartedAt { get; set; }
    public double DurationMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }
    public long InputTokens { get; set; }
    public long CachedInputTokens { get; set; }
    public long OutputTokens { get; set; }
    public long ReasoningTokens { get; set; }
    public bool UsageEstimated { get; set; }

    /// <summary>Cost in billionths of a USD; <see langword="null"/> when unpriced.</summary>
    public long? CostNanoUsd { get; set; }

    public bool SelfHosted { get; set; }
    public bool FromCache { get; set; }
    public int? MaxOutputTokens { get; set; }
    public string? FinishReason { get; set; }
    public string Status { get; set; } = "";
    public string? Error { get; set; }
    public string? Anomaly { get; set; }
    public string? TraceId { get; set; }
    public string? SpanId { get; set; }
}

/// <summary>
/// A live process's lease: it renews it while it runs, so another process can tell its runs and budget holds from those
/// of a process that is gone (the lease expired, or its process id is not running on this machine).
/// </summary>
internal sealed class ProcessLeaseRecord
{
    public string Id { get; set; } = "";
    public string Machine { get; set; } = "";
    public int ProcessId { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime RenewedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
}

/// <summary>
/// One progress event of a run started through the API, as its server-sent event (name and JSON), written by the instance
/// running it so that another instance behind the same load balancer can stream it. Kept for the API's event retention.
/// </summary>
internal sealed class RunStreamEventRecord
{
    public Guid RunId { get; set; }

    /// <summary>The event's id in the stream (0, 1, 2…), what <c>Last-Event-ID</c> names.</summary>
    public int Index { get; set; }

    public string Name { get; set; } = "";
    public string Data { get; set; } = "";
    public DateTime CreatedAt { get; set; }
}

internal sealed class RunEventRecord
{
    public long Id { get; set; }
    public Guid RunId { get; set; }
    public int Sequence { get; set; }
    public string Stage { get; set; } = "";
    public string Message { get; set; } = "";
    public DateTime Timestamp { get; set; }
}
