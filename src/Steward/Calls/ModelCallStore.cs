using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Calls;

/// <summary>
/// Model call records in Steward's database. A run's and an evaluation's calls are stored with them, in their own
/// transaction (<see cref="ToRecord"/>); this store writes calls nobody else owns and reads them back. Thread-safe.
/// </summary>
internal sealed class ModelCallStore(IDbContextFactory<StewardDbContext> contexts, SqliteWriteLock writeLock)
{
    public async Task SaveAsync(IReadOnlyList<ModelCall> calls, CancellationToken cancellationToken)
    {
        if (calls.Count == 0)
        {
            return;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.ModelCalls.AddRange(calls.Select(c => ToRecord(c, presetName: null)));
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The calls of these runs, in order, by run.</summary>
    public async Task<ILookup<Guid, ModelCall>> ForRunsAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.ModelCalls.AsNoTracking().Where(c => c.RunId != null && runIds.Contains(c.RunId.Value))
            .OrderBy(c => c.RunId).ThenBy(c => c.Purpose).ThenBy(c => c.Sequence).ToListAsync(cancellationToken).ConfigureAwait(false);
        return records.ToLookup(r => r.RunId!.Value, ToModel);
    }

    public static ModelCallRecord ToRecord(ModelCall call, string? presetName) => new()
    {
        Id = call.Id,
        RunId = call.RunId,
        Sequence = call.Sequence,
        Purpose = PurposeName(call.Purpose),
        PresetName = presetName,
        Provider = call.Provider,
        Model = call.Model,
        ResponseModel = call.ResponseModel,
        StartedAt = call.StartedAt.UtcDateTime,
        DurationMs = call.Duration.TotalMilliseconds,
        TimeToFirstTokenMs = call.TimeToFirstToken?.TotalMilliseconds,
        InputTokens = call.Usage.InputTokens,
        CachedInputTokens = call.Usage.CachedInputTokens,
        OutputTokens = call.Usage.OutputTokens,
        ReasoningTokens = call.Usage.ReasoningTokens,
        UsageEstimated = call.UsageEstimated,
        CostNanoUsd = NanoUsd.FromUsd(call.Cost.Usd),
        SelfHosted = call.Cost.SelfHosted,
        FromCache = call.FromCache,
        MaxOutputTokens = call.MaxOutputTokens,
        FinishReason = call.FinishReason,
        Status = call.Status.ToString(),
        Error = call.Error,
        Anomaly = call.Anomaly,
        TraceId = call.TraceId,
        SpanId = call.SpanId,
    };

    public static ModelCall ToModel(ModelCallRecord r) => new()
    {
        Id = r.Id,
        RunId = r.RunId,
        Sequence = r.Sequence,
        Purpose = ParsePurpose(r.Purpose),
        Provider = r.Provider,
        Model = r.Model,
        ResponseModel = r.ResponseModel,
        StartedAt = Sessions.SessionStore.Utc(r.StartedAt),
        Duration = TimeSpan.FromMilliseconds(r.DurationMs),
        TimeToFirstToken = r.TimeToFirstTokenMs is { } ttft ? TimeSpan.FromMilliseconds(ttft) : null,
        Usage = new RunUsage(r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens),
        UsageEstimated = r.UsageEstimated,
        Cost = new RunCost(NanoUsd.ToUsd(r.CostNanoUsd), r.SelfHosted),
        FromCache = r.FromCache,
        MaxOutputTokens = r.MaxOutputTokens,
        FinishReason = r.FinishReason,
        Status = Enum.TryParse<ModelCallStatus>(r.Status, out var status) ? status : ModelCallStatus.Completed,
        Error = r.Error,
        Anomaly = r.Anomaly,
        TraceId = r.TraceId,
        SpanId = r.SpanId,
    };

    /// <summary>The stored name of a purpose: <c>agent</c>, <c>judge</c>, <c>gateway</c>, <c>eval</c>.</summary>
    public static string PurposeName(ModelCallPurpose purpose) => purpose switch
    {
        ModelCallPurpose.Judge => "judge",
        ModelCallPurpose.Gateway => "gateway",
        ModelCallPurpose.Eval => "eval",
        _ => "agent",
    };

    public static ModelCallPurpose ParsePurpose(string name) => name switch
    {
        "judge" => ModelCallPurpose.Judge,
        "gateway" => ModelCallPurpose.Gateway,
        "eval" => ModelCallPurpose.Eval,
        _ => ModelCallPurpose.Agent,
    };
}
