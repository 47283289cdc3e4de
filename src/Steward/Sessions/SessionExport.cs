using System.Text.Json;
using System.Text.Json.Serialization;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// The versioned export of one session: the session, its messages, runs (usage, cost, status, errors, trace id),
/// each run's progress log and its evaluation. <see cref="SessionExporter"/> reads it back without loss.
/// </summary>
/// <remarks>
/// Version 2 fills each run's <c>evaluations</c> (empty in version 1). Version 3 adds each run's <c>model_calls</c> (the
/// agent's and the judge's, with their own usage and cost), its partial answer, finish reason and flags. Version 4 adds
/// each run's <c>tool_calls</c> (name, arguments, result preview, error, duration, approval) and <c>citations</c>. Older
/// documents still import; a build that reads only older versions refuses a newer one rather than dropping data unnoticed.
/// Version 5 adds each run's <c>feedback</c> (a person's thumbs up or down and comment), or null. Version 6 adds each
/// run's <c>tags</c> and <c>user_id</c>.
/// </remarks>
public sealed record SessionExportDocument
{
    /// <summary>The format version this build writes.</summary>
    public const int CurrentSchemaVersion = 6;

    /// <summary>The oldest format version this build reads.</summary>
    public const int OldestReadableSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public DateTimeOffset ExportedAt { get; init; }
    public required ExportedSession Session { get; init; }
    public IReadOnlyList<ExportedMessage> Messages { get; init; } = [];
    public IReadOnlyList<ExportedRun> Runs { get; init; } = [];
}

public sealed record ExportedSession(Guid Id, string Title, string Preset, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record ExportedMessage(int Sequence, string Role, string Content, DateTimeOffset CreatedAt, Guid? RunId);

public sealed record ExportedRun(
    Guid Id, string Preset, string PresetVersion, string Provider, string Model, string Query, RunStatus Status,
    DateTimeOffset StartedAt, DateTimeOffset? EndedAt, double? DurationMs, double? TimeToFirstTokenMs, ExportedUsage Usage,
    ExportedCost Cost, ExportedError? Error, string? TraceId, IReadOnlyList<ExportedRunEvent> ProgressLog,
    IReadOnlyList<ExportedEvaluation> Evaluations, bool FromCache = false)
{
    /// <summary>Every model call the run made, and the judge's calls scoring it (version 3).</summary>
    public IReadOnlyList<ExportedModelCall> ModelCalls { get; init; } = [];

    /// <summary>What was streamed before a failed or cancelled run ended; never the answer.</summary>
    public string? PartialAnswer { get; init; }

    public string? FinishReason { get; init; }

    public bool UsageEstimated { get; init; }

    public string? Anomaly { get; init; }

    /// <summary><c>agent</c>, <c>eval</c> or <c>gateway</c>.</summary>
    public string Purpose { get; init; } = "agent";

    /// <summary>The run's tool calls, in order (version 4).</summary>
    public IReadOnlyList<ExportedToolCall> ToolCalls { get; init; } = [];

    /// <summary>The sources of the answer, by number (version 4).</summary>
    public IReadOnlyList<Tools.Citation> Citations { get; init; } = [];

    /// <summary>A person's rating of the answer (version 5); null when nobody rated it.</summary>
    public ExportedFeedback? Feedback { get; init; }

    /// <summary>The caller's labels of the run (version 6).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Who the run was made for (version 6); null when not given.</summary>
    public string? UserId { get; init; }
}

/// <summary>A person's rating of a run's answer: <c>up</c> or <c>down</c>, a comment, where and when it was given.</summary>
public sealed record ExportedFeedback(Evaluation.FeedbackRating Rating, string? Comment, string Source, DateTimeOffset GivenAt);

/// <summary>One tool call of a run.</summary>
public sealed record ExportedToolCall(
    int Sequence, string CallId, string Name, string? Server, string? Arguments, string? ResultPreview, string? Error, double? DurationMs, string? Approval,
    DateTimeOffset? StartedAt);

/// <summary>One model call of a run: what for, its usage and cost, how it ended.</summary>
public sealed record ExportedModelCall(
    Guid Id, int Sequence, Calls.ModelCallPurpose Purpose, string Provider, string Model, string? ResponseModel, DateTimeOffset StartedAt,
    double DurationMs, double? TimeToFirstTokenMs, ExportedUsage Usage, bool UsageEstimated, ExportedCost Cost, bool SelfHosted, bool FromCache,
    int? MaxOutputTokens, string? FinishReason, Calls.ModelCallStatus Status, string? Error, string? Anomaly);

/// <summary>A run's evaluation: the quality score, every metric, and the judge's usage and cost (apart from the run's).</summary>
public sealed record ExportedEvaluation(
    DateTimeOffset EvaluatedAt, double Score, bool Passed, double PassThreshold, double DurationMs, string? Error, ExportedJudge? Judge,
    Guid? BatchId, string? CaseId, IReadOnlyList<ExportedMetric> Metrics);

/// <summary>The judge model an evaluation used, and what it used and cost.</summary>
public sealed record ExportedJudge(string Provider, string Model, ExportedUsage Usage, ExportedCost Cost, bool SelfHosted);

/// <summary>One evaluation metric as stored.</summary>
public sealed record ExportedMetric(
    string Name, string Evaluator, double? Value, double? NormalizedScore, double Weight, string? Rating, bool Failed, string Reason,
    string? Interpretation, IReadOnlyList<string> Diagnostics);

public sealed record ExportedUsage(long InputTokens, long CachedInputTokens, long OutputTokens, long ReasoningTokens);

/// <summary>Cost in USD; <see cref="Usd"/> is null when the model was unpriced.</summary>
public sealed record ExportedCost(decimal? Usd, bool Priced);

public sealed record ExportedError(string? Code, string Message);

public sealed record ExportedRunEvent(int Sequence, RunStage Stage, string Message, DateTimeOffset Timestamp);

/// <summary>A session document that cannot be imported, with the reason.</summary>
public sealed class SessionImportException : Exception
{
    /// <summary>The document is fine but its ids are stored already: importing it as a copy (new ids) would work.</summary>
    public bool CanImportAsCopy { get; init; }

    public SessionImportException(string message) : base(message) { }

    public SessionImportException() { }

    public SessionImportException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Writes and reads <see cref="SessionExportDocument"/>s. Holds no secrets: none are stored with sessions.</summary>
internal sealed class SessionExporter(SessionStore store, Evaluation.EvaluationStore evaluations, TimeProvider time)
{
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter() },
    };

    public async Task<SessionExportDocument> ExportAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var s = await store.LoadRecordAsync(sessionId, cancellationToken).ConfigureAwait(false) ?? throw new SessionNotFoundException(sessionId);
        var evaluated = await evaluations.LoadAsync(s.Runs.Select(r => r.Id).ToArray(), cancellationToken).ConfigureAwait(false);
        return new SessionExportDocument
        {
            ExportedAt = time.GetUtcNow(),
            Session = new ExportedSession(s.Id, s.Title, s.PresetName, Utc(s.CreatedAt), Utc(s.UpdatedAt)),
            Messages = s.Messages.OrderBy(m => m.Sequence).Select(m => new ExportedMessage(m.Sequence, m.Role, m.Content, Utc(m.CreatedAt), m.RunId)).ToArray(),
            Runs = s.Runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id).Select(r => new ExportedRun(
                r.Id, r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Query, Enum.Parse<RunStatus>(r.Status), Utc(r.StartedAt),
                r.EndedAt is { } e ? Utc(e) : null, r.DurationMs, r.TimeToFirstTokenMs,
                new ExportedUsage(r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens),
                new ExportedCost(NanoUsd.ToUsd(r.CostNanoUsd), r.CostNanoUsd is not null),
                r.Error is null && r.ErrorKind is null ? null : new ExportedError(r.ErrorKind, r.Error ?? ""),
                r.TraceId,
                r.Events.OrderBy(ev => ev.Sequence).Select(ev => new ExportedRunEvent(ev.Sequence, Enum.Parse<RunStage>(ev.Stage), ev.Message, Utc(ev.Timestamp))).ToArray(),
                evaluated.TryGetValue(r.Id, out var evaluation) ? [Export(evaluation)] : [], r.FromCache)
            {
                ModelCalls = r.Calls.OrderBy(c => c.Purpose == "judge").ThenBy(c => c.StartedAt).ThenBy(c => c.Sequence).Select(Export).ToArray(),
                PartialAnswer = r.PartialAnswer,
                FinishReason = r.FinishReason,
                UsageEstimated = r.UsageEstimated,
                Anomaly = r.Anomaly,
                Purpose = r.Purpose,
                ToolCalls = r.ToolCalls.OrderBy(t => t.Sequence).Select(t => new ExportedToolCall(
                    t.Sequence, t.CallId, t.Name, t.Server, t.Arguments, t.ResultPreview, t.Error, t.DurationMs, t.Approval, t.StartedAt is { } at ? Utc(at) : null)).ToArray(),
                Citations = r.Citations.OrderBy(c => c.Number).Select(ToolRecords.FromRecord).ToArray(),
                Feedback = r.Feedback is { } f ? new ExportedFeedback(f.Rating > 0 ? Evaluation.FeedbackRating.Up : Evaluation.FeedbackRating.Down, f.Comment, f.Source, Utc(f.GivenAt)) : null,
                Tags = r.Tags.Select(t => t.Tag).Order(StringComparer.Ordinal).ToArray(),
                UserId = r.UserId,
            }).ToArray(),
        };
    }

    private static ExportedModelCall Export(ModelCallRecord c) => new(
        c.Id, c.Sequence, Calls.ModelCallStore.ParsePurpose(c.Purpose), c.Provider, c.Model, c.ResponseModel, Utc(c.StartedAt), c.DurationMs, c.TimeToFirstTokenMs,
        new ExportedUsage(c.InputTokens, c.CachedInputTokens, c.OutputTokens, c.ReasoningTokens), c.UsageEstimated,
        new ExportedCost(NanoUsd.ToUsd(c.CostNanoUsd), c.CostNanoUsd is not null), c.SelfHosted, c.FromCache, c.MaxOutputTokens, c.FinishReason,
        Enum.TryParse<Calls.ModelCallStatus>(c.Status, out var status) ? status : Calls.ModelCallStatus.Completed, c.Error, c.Anomaly);

    private static ModelCallRecord Import(Guid runId, string preset, ExportedModelCall c) => new()
    {
        Id = c.Id, RunId = runId, Sequence = c.Sequence, Purpose = Calls.ModelCallStore.PurposeName(c.Purpose), PresetName = preset,
        Provider = c.Provider, Model = c.Model, ResponseModel = c.ResponseModel, StartedAt = c.StartedAt.UtcDateTime, DurationMs = c.DurationMs,
        TimeToFirstTokenMs = c.TimeToFirstTokenMs, InputTokens = c.Usage.InputTokens, CachedInputTokens = c.Usage.CachedInputTokens,
        OutputTokens = c.Usage.OutputTokens, ReasoningTokens = c.Usage.ReasoningTokens, UsageEstimated = c.UsageEstimated,
        CostNanoUsd = c.Cost.Priced ? NanoUsd.FromUsd(c.Cost.Usd ?? 0m) : null, SelfHosted = c.SelfHosted, FromCache = c.FromCache,
        MaxOutputTokens = c.MaxOutputTokens, FinishReason = c.FinishReason, Status = c.Status.ToString(), Error = c.Error, Anomaly = c.Anomaly,
    };

    public async Task WriteAsync(Guid sessionId, Stream destination, CancellationToken cancellationToken)
    {
        var doc = await ExportAsync(sessionId, cancellationToken).ConfigureAwait(false);
        await JsonSerializer.SerializeAsync(destination, doc, JsonOptions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a document and stores the session. Nothing is written unless the whole document is valid.</summary>
    /// <exception cref="SessionImportException">The document is malformed, of an unknown version, or the session exists.</exception>
    public Task<Guid> ImportAsync(Stream source, CancellationToken cancellationToken) => ImportAsync(source, asCopy: false, cancellationToken);

    /// <inheritdoc cref="ImportAsync(Stream, CancellationToken)"/>
    /// <param name="source">The export.</param>
    /// <param name="asCopy">Give the session and its runs new ids, so an export of a stored session can sit beside it.</param>
    /// <param name="cancellationToken">Cancels the import; nothing is stored then.</param>
    /// <returns>The stored session's id (a new one for a copy).</returns>
    public async Task<Guid> ImportAsync(Stream source, bool asCopy, CancellationToken cancellationToken)
    {
        var doc = await SessionImportValidator.ReadAsync(source, cancellationToken).ConfigureAwait(false);
        if (asCopy)
        {
            doc = SessionImportCopy.WithNewIds(doc, time);
        }

        await RefuseStoredIdsAsync(doc, cancellationToken).ConfigureAwait(false);
        var record = new SessionRecord
        {
            Id = doc.Session.Id,
            Title = doc.Session.Title,
            PresetName = doc.Session.Preset,
            CreatedAt = doc.Session.CreatedAt.UtcDateTime,
            UpdatedAt = doc.Session.UpdatedAt.UtcDateTime,
            Messages = doc.Messages.Select(m => new MessageRecord
            {
                SessionId = doc.Session.Id, RunId = m.RunId, Sequence = m.Sequence, Role = m.Role, Content = m.Content, CreatedAt = m.CreatedAt.UtcDateTime,
            }).ToList(),
            Runs = doc.Runs.Select(r => new RunRecord
            {
                Id = r.Id, SessionId = doc.Session.Id, PresetName = r.Preset, PresetVersion = r.PresetVersion, Provider = r.Provider, Model = r.Model,
                Query = r.Query, Status = r.Status.ToString(), StartedAt = r.StartedAt.UtcDateTime, EndedAt = r.EndedAt?.UtcDateTime,
                DurationMs = r.DurationMs, TimeToFirstTokenMs = r.TimeToFirstTokenMs, InputTokens = r.Usage.InputTokens,
                CachedInputTokens = r.Usage.CachedInputTokens, OutputTokens = r.Usage.OutputTokens, ReasoningTokens = r.Usage.ReasoningTokens,
                CostNanoUsd = r.Cost.Priced ? NanoUsd.FromUsd(r.Cost.Usd ?? 0m) : null, Error = r.Error?.Message, ErrorKind = r.Error?.Code,
                TraceId = r.TraceId, FromCache = r.FromCache, Owner = "imported",
                PartialAnswer = r.PartialAnswer, FinishReason = r.FinishReason, UsageEstimated = r.UsageEstimated, Anomaly = r.Anomaly,
                Purpose = r.Purpose, EvaluationStatus = r.Evaluations.Count > 0 ? "scored" : null,
                UserId = RunMetadata.UserId(r.UserId), Tags = [.. RunMetadata.Tags(r.Tags).Select(t => new RunTagRecord { RunId = r.Id, Tag = t })],
                Events = r.ProgressLog.Select(ev => new RunEventRecord { RunId = r.Id, Sequence = ev.Sequence, Stage = ev.Stage.ToString(), Message = ev.Message, Timestamp = ev.Timestamp.UtcDateTime }).ToList(),
                Calls = r.ModelCalls.Select(c => Import(r.Id, r.Preset, c)).ToList(),
                ToolCalls = r.ToolCalls.Select(t => new ToolCallRecord
                {
                    RunId = r.Id, Sequence = t.Sequence, CallId = t.CallId, Name = t.Name, Server = t.Server, Arguments = t.Arguments, ResultPreview = t.ResultPreview,
                    Error = t.Error, DurationMs = t.DurationMs, Approval = t.Approval, StartedAt = t.StartedAt?.UtcDateTime,
                }).ToList(),
                Citations = r.Citations.Select(c => ToolRecords.ToRecord(r.Id, c)).ToList(),
                Feedback = r.Feedback is { } f
                    ? new FeedbackRecord { RunId = r.Id, Rating = (int)f.Rating, Comment = f.Comment, Source = f.Source, GivenAt = f.GivenAt.UtcDateTime }
                    : null,
            }).ToList(),
        };

        var imported = doc.Runs.Where(r => r.Evaluations.Count == 1).Select(r => Import(r.Id, r.Preset, r.Evaluations[0])).ToArray();
        try
        {
            await store.InsertRecordAsync(record, imported, cancellationToken).ConfigureAwait(false);
        }
        catch (Microsoft.EntityFrameworkCore.DbUpdateException ex) when (StorageErrors.IsDuplicateKey(ex))
        {
            // Another import of the same ids won the race since the check above.
            throw new SessionImportException($"Session {record.Id} or one of its runs was stored meanwhile; nothing was imported.", ex) { CanImportAsCopy = true };
        }

        return record.Id;
    }

    private async Task RefuseStoredIdsAsync(SessionExportDocument doc, CancellationToken cancellationToken)
    {
        if (await store.LoadRecordAsync(doc.Session.Id, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new SessionImportException($"session.id: session {doc.Session.Id} is already stored; nothing was imported.") { CanImportAsCopy = true };
        }

        var stored = await store.FindStoredRunsAsync(doc.Runs.Select(r => r.Id).ToArray(), cancellationToken).ConfigureAwait(false);
        if (stored.Count > 0)
        {
            var index = doc.Runs.ToList().FindIndex(r => r.Id == stored[0].RunId);
            throw new SessionImportException(
                $"runs[{index}].id: run {stored[0].RunId} is already stored, in session {stored[0].SessionId}; nothing was imported.") { CanImportAsCopy = true };
        }
    }

    private static ExportedEvaluation Export(EvaluationRecord e) => new(
        Utc(e.EvaluatedAt), e.Score, e.Passed, e.PassThreshold, e.DurationMs, e.Error,
        e.JudgeProvider is null ? null : new ExportedJudge(e.JudgeProvider, e.JudgeModel ?? "",
            new ExportedUsage(e.JudgeInputTokens, e.JudgeCachedInputTokens, e.JudgeOutputTokens, e.JudgeReasoningTokens),
            new ExportedCost(NanoUsd.ToUsd(e.JudgeCostNanoUsd), e.JudgeCostNanoUsd is not null), e.JudgeSelfHosted),
        e.BatchId, e.CaseId,
        e.Metrics.OrderBy(m => m.Sequence).Select(m => new ExportedMetric(
            m.Name, m.Evaluator, m.Value, m.NormalizedScore, m.Weight, m.Rating, m.Failed, m.Reason, m.Interpretation,
            m.Diagnostics?.Split('\n') ?? [])).ToArray());

    private static EvaluationRecord Import(Guid runId, string preset, ExportedEvaluation e) => new()
    {
        RunId = runId, PresetName = preset, EvaluatedAt = e.EvaluatedAt.UtcDateTime, Score = e.Score, Passed = e.Passed,
        PassThreshold = e.PassThreshold, DurationMs = e.DurationMs, Error = e.Error, BatchId = e.BatchId, CaseId = e.CaseId,
        JudgeProvider = e.Judge?.Provider, JudgeModel = e.Judge?.Model,
        JudgeInputTokens = e.Judge?.Usage.InputTokens ?? 0, JudgeCachedInputTokens = e.Judge?.Usage.CachedInputTokens ?? 0,
        JudgeOutputTokens = e.Judge?.Usage.OutputTokens ?? 0, JudgeReasoningTokens = e.Judge?.Usage.ReasoningTokens ?? 0,
        JudgeCostNanoUsd = e.Judge is { Cost.Priced: true } j ? NanoUsd.FromUsd(j.Cost.Usd ?? 0m) : null, JudgeSelfHosted = e.Judge?.SelfHosted ?? false,
        Metrics = e.Metrics.Select((m, i) => new EvaluationMetricRecord
        {
            RunId = runId, Sequence = i + 1, Name = m.Name, Evaluator = m.Evaluator, Value = m.Value, NormalizedScore = m.NormalizedScore,
            Weight = m.Weight, Rating = m.Rating, Failed = m.Failed, Reason = m.Reason, Interpretation = m.Interpretation,
            Diagnostics = m.Diagnostics.Count == 0 ? null : string.Join('\n', m.Diagnostics),
        }).ToList(),
    };

    private static DateTimeOffset Utc(DateTime value) => SessionStore.Utc(value);
}
