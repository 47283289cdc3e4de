namespace Steward.Storage;

/// <summary>
/// Where a run's model calls are stored. A run whose only call agrees with the run on everything the two share (purpose,
/// preset, provider, model, usage by bucket, cost, cache, finish reason, anomaly, trace) keeps that call on its own row:
/// the run's columns and the <c>Call…</c> columns named here, written by the update that stores the run's end. Every other
/// call (a tool loop's second and later, a judge's, one that disagrees with its run) is a row of
/// <see cref="RowsTable"/>. The <see cref="View"/> view reads both as one record per call.
/// </summary>
/// <remarks>
/// <para>
/// What the run already says is not stored again: a run's first call has the run's id (<see cref="Calls.ModelCallScope"/>),
/// so its <see cref="Id"/> is left empty, and a completed call leaves <see cref="Status"/> empty; the view reads them back.
/// <see cref="Sequence"/> is set for every inline call and marks one. The update that stores a run's end grows the run's
/// row by what it adds, and a row that outgrows its page makes SQLite rebalance the page with its neighbours on the single
/// writer (migration InlineCallsKeepOnlyWhatDiffers).
/// </para>
/// Why: each commit of the run writer writes a few pages of every B-tree it appends to (the rightmost leaf, its splits and
/// their parent), whatever the number of rows. A separate table for the one call most runs make was ~6 pages of ~90 a
/// commit, ~14 % of the writer's log and the largest part of what governing a call added to a run at 64 concurrent
/// runs (bench/Steward.Bench's <c>+log pages/run</c>: 0.57-0.74 with the row, 0.18-0.44 with the call on the run's row).
/// </remarks>
internal static class InlineCall
{
    public const string View = "model_calls";
    public const string RowsTable = "model_call_rows";

    public const string Id = "CallId";
    public const string Sequence = "CallSequence";
    public const string ResponseModel = "CallResponseModel";
    public const string StartedAt = "CallStartedAt";
    public const string DurationMs = "CallDurationMs";
    public const string TimeToFirstTokenMs = "CallTimeToFirstTokenMs";
    public const string SelfHosted = "CallSelfHosted";
    public const string MaxOutputTokens = "CallMaxOutputTokens";
    public const string Status = "CallStatus";
    public const string Error = "CallError";
    public const string SpanId = "CallSpanId";

    /// <summary>The columns of a run's row that hold its inline call's own values, in the order of <see cref="Values"/>.</summary>
    public static readonly string[] Columns = [Id, Sequence, ResponseModel, StartedAt, DurationMs, TimeToFirstTokenMs, SelfHosted, MaxOutputTokens, Status, Error, SpanId];

    /// <summary>The call <paramref name="run"/> can keep on its row, or <see langword="null"/> when its calls need the table.</summary>
    public static ModelCallRecord? Of(RunRecord run, IReadOnlyList<ModelCallRecord> calls) =>
        calls is [var c] && c.RunId == run.Id && c.Purpose == run.Purpose && c.PresetName == run.PresetName && c.Provider == run.Provider
        && c.Model == run.Model && c.InputTokens == run.InputTokens && c.CachedInputTokens == run.CachedInputTokens
        && c.OutputTokens == run.OutputTokens && c.ReasoningTokens == run.ReasoningTokens && c.UsageEstimated == run.UsageEstimated
        && c.CostNanoUsd == run.CostNanoUsd && c.FromCache == run.FromCache && c.FinishReason == run.FinishReason && c.Anomaly == run.Anomaly
        && c.TraceId == run.TraceId
            ? c
            : null;

    private static readonly object?[] NoCall = new object?[Columns.Length];

    /// <summary>The values of <see cref="Columns"/> for <paramref name="run"/>'s <paramref name="call"/> (all null when there is none: every run's start).</summary>
    public static ReadOnlySpan<object?> Values(StorageBackend b, RunRecord run, ModelCallRecord? call) => call is null
        ? NoCall
        : new object?[] { call.Id == run.Id ? null : b.Id(call.Id), call.Sequence, call.ResponseModel, b.Date(call.StartedAt), call.DurationMs, call.TimeToFirstTokenMs, b.Flag(call.SelfHosted),
            call.MaxOutputTokens, call.Status == CompletedStatus ? null : call.Status, call.Error, call.SpanId };

    /// <summary>What the view reads an inline call's empty <see cref="Status"/> as.</summary>
    private const string CompletedStatus = nameof(Calls.ModelCallStatus.Completed);
}
