using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Evaluation;

/// <summary>Evaluations and batch reports in Steward's database. Thread-safe: every call uses its own context.</summary>
internal sealed class EvaluationStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend)
{
    /// <summary>
    /// Stores a run's evaluation in one transaction: the score and each metric, the judge's model calls, the quality
    /// line in the run's progress log, and the run's evaluation status.
    /// </summary>
    public async Task SaveAsync(
        EvaluationRequest request, QualityResult result, IReadOnlyList<Calls.ModelCall> judgeCalls, DateTimeOffset evaluatedAt, CancellationToken cancellationToken)
    {
        var record = ToRecord(request.RunId, request.Preset.Name, result, evaluatedAt.UtcDateTime);
        record.BatchId = request.Hints?.BatchId;
        record.CaseId = request.Hints?.CaseId;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.Evaluations.Add(record);
        using var _ = await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await AppendEventAsync(db, request.RunId, result.Describe(), evaluatedAt, cancellationToken).ConfigureAwait(false);
        await db.Runs.Where(r => r.Id == request.RunId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.EvaluationStatus, "scored"), cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await Calls.ModelCallStore.InsertAsync(db, backend, judgeCalls, request.Preset.Name, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records that a run's answer was not scored, and why, in its status and progress log.</summary>
    public async Task MarkSkippedAsync(Guid runId, string reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var updated = await db.Runs.Where(r => r.Id == runId && r.EvaluationStatus == "pending")
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.EvaluationStatus, "skipped"), cancellationToken).ConfigureAwait(false);
        if (updated > 0)
        {
            await AppendEventAsync(db, runId, "Evaluation skipped: " + reason, at, cancellationToken).ConfigureAwait(false);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task AppendEventAsync(StewardDbContext db, Guid runId, string message, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var last = await db.RunEvents.Where(e => e.RunId == runId).MaxAsync(e => (int?)e.Sequence, cancellationToken).ConfigureAwait(false) ?? 0;
        db.RunEvents.Add(new RunEventRecord { RunId = runId, Sequence = last + 1, Stage = nameof(RunStage.Evaluating), Message = message, Timestamp = at.UtcDateTime });
    }

    /// <summary>The quality of these runs' answers, by run (runs never scored are absent).</summary>
    public async Task<IReadOnlyDictionary<Guid, QualityResult>> LoadResultsAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        var records = await LoadAsync(runIds, cancellationToken).ConfigureAwait(false);
        return records.ToDictionary(e => e.Key, e => ToResult(e.Value));
    }

    /// <summary>The evaluations of these runs, by run.</summary>
    public async Task<Dictionary<Guid, EvaluationRecord>> LoadAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.Evaluations.AsNoTracking().Include(e => e.Metrics).Where(e => runIds.Contains(e.RunId))
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return records.ToDictionary(r => r.RunId);
    }

    public async Task SaveBatchAsync(EvaluationBatchRecord batch, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.EvaluationBatches.Add(batch);
        using var _ = await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest stored batches (without their reports), newest first.</summary>
    public async Task<IReadOnlyList<EvaluationBatchRecord>> ListBatchesAsync(int take, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.EvaluationBatches.AsNoTracking().OrderByDescending(b => b.StartedAt).ThenByDescending(b => b.Id).Take(take)
            .Select(b => new EvaluationBatchRecord
            {
                Id = b.Id, Dataset = b.Dataset, PresetName = b.PresetName, Judge = b.Judge, StartedAt = b.StartedAt, EndedAt = b.EndedAt, Cases = b.Cases,
                Passed = b.Passed, Failed = b.Failed, MeanScore = b.MeanScore, CostNanoUsd = b.CostNanoUsd, JudgeCostNanoUsd = b.JudgeCostNanoUsd,
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<EvaluationBatchRecord?> LoadBatchAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.EvaluationBatches.AsNoTracking().FirstOrDefaultAsync(b => b.Id == id, cancellationToken).ConfigureAwait(false);
    }

    internal static EvaluationRecord ToRecord(Guid runId, string preset, QualityResult result, DateTime evaluatedAt) => new()
    {
        RunId = runId,
        PresetName = preset,
        EvaluatedAt = evaluatedAt,
        Score = result.Score,
        Passed = result.Passed,
        PassThreshold = result.PassThreshold,
        DurationMs = result.Duration.TotalMilliseconds,
        JudgeProvider = result.JudgeCost?.Provider,
        JudgeModel = result.JudgeCost?.Model,
        JudgeInputTokens = result.JudgeCost?.Usage.InputTokens ?? 0,
        JudgeCachedInputTokens = result.JudgeCost?.Usage.CachedInputTokens ?? 0,
        JudgeOutputTokens = result.JudgeCost?.Usage.OutputTokens ?? 0,
        JudgeReasoningTokens = result.JudgeCost?.Usage.ReasoningTokens ?? 0,
        JudgeCostNanoUsd = NanoUsd.FromUsd(result.JudgeCost?.Cost.Usd),
        JudgeSelfHosted = result.JudgeCost?.Cost.SelfHosted ?? false,
        Error = result.Error,
        Metrics = result.Metrics.Select((m, i) => new EvaluationMetricRecord
        {
            RunId = runId,
            Sequence = i + 1,
            Name = m.Name,
            Evaluator = m.Evaluator,
            Value = m.Value,
            NormalizedScore = m.NormalizedScore,
            Weight = m.Weight,
            Rating = m.Rating,
            Failed = m.Failed,
            Reason = m.Reason,
            Interpretation = m.Interpretation,
            Diagnostics = m.Diagnostics.Count == 0 ? null : string.Join('\n', m.Diagnostics),
        }).ToList(),
    };

    internal static QualityResult ToResult(EvaluationRecord r) => new(r.Score, r.Passed, r.Metrics.OrderBy(m => m.Sequence).Select(m => new QualityMetric(m.Name, m.Value, m.Reason)
    {
        Evaluator = m.Evaluator,
        NormalizedScore = m.NormalizedScore,
        Weight = m.Weight,
        Rating = m.Rating,
        Failed = m.Failed,
        Interpretation = m.Interpretation,
        Diagnostics = m.Diagnostics?.Split('\n') ?? [],
    }).ToArray())
    {
        PassThreshold = r.PassThreshold,
        Duration = TimeSpan.FromMilliseconds(r.DurationMs),
        Error = r.Error,
        JudgeCost = r.JudgeProvider is null ? null : new EvaluationCost(r.JudgeProvider, r.JudgeModel ?? "",
            new RunUsage(r.JudgeInputTokens, r.JudgeCachedInputTokens, r.JudgeOutputTokens, r.JudgeReasoningTokens),
            new RunCost(NanoUsd.ToUsd(r.JudgeCostNanoUsd), r.JudgeSelfHosted)),
    };
}
