using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Calls;

/// <summary>
/// Model call records in Steward's database. A run's calls are stored with the run, and a judge's with the evaluation,
/// each in its own transaction; this store maps them and reads them back. Thread-safe.
/// </summary>
internal sealed class ModelCallStore(IDbContextFactory<StewardDbContext> contexts)
{
    /// <summary>The calls of these runs, in order (the run's own, then its judge's), by run.</summary>
    public async Task<ILookup<Guid, ModelCall>> ForRunsAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.ModelCalls.AsNoTracking().Where(c => runIds.Contains(c.RunId))
            .OrderBy(c => c.RunId).ThenBy(c => c.Purpose == "judge").ThenBy(c => c.Sequence).ToListAsync(cancellationToken).ConfigureAwait(false);
        return records.ToLookup(r => r.RunId, ToModel);
    }

    /// <summary>
    /// Inserts call records in <paramref name="db"/>'s current transaction with one statement (EF's change tracking of a
    /// wide row costs more than the insert itself).
    /// </summary>
    public static async Task InsertAsync(StewardDbContext db, StorageBackend backend, IReadOnlyList<ModelCall> calls, string? presetName, CancellationToken cancellationToken)
    {
        if (calls.Count == 0)
        {
            return;
        }

        var connection = db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        command.CommandText = RunWriter.InsertCallSql;
        var parameters = RunWriter.CallColumns.Select(name =>
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            command.Parameters.Add(parameter);
            return parameter;
        }).ToArray();
        foreach (var call in calls)
        {
            var values = RunWriter.CallValues(backend, ToRecord(call, presetName));
            for (var i = 0; i < parameters.Length; i++)
            {
                parameters[i].Value = values[i] ?? DBNull.Value;
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The record of a call made for a run (a call outside any run has no record).</summary>
    public static ModelCallRecord ToRecord(ModelCall call, string? presetName) => new()
    {
        Id = call.Id,
        RunId = call.RunId ?? throw new ArgumentException("A model call is stored with its run; this one has none.", nameof(call)),
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
