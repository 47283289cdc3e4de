using System.Text.Json;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Evaluation.Batches;

/// <summary>What to evaluate and how.</summary>
public sealed record EvaluationBatchRequest
{
    /// <summary>The dataset's name (its file name), for the report.</summary>
    public required string Dataset { get; init; }

    public required IReadOnlyList<EvaluationCase> Cases { get; init; }

    /// <summary>The agent preset that answers.</summary>
    public required string Preset { get; init; }

    /// <summary>At most this many cases run at once. Default 4.</summary>
    public int Concurrency { get; init; } = 4;

    public string? Provider { get; init; }
    public string? Model { get; init; }
    public int? MaxOutputTokens { get; init; }
}

/// <summary>
/// Runs every case of a dataset through the real pipeline (budgets, pricing, evaluation, storage all apply), at most
/// <see cref="EvaluationBatchRequest.Concurrency"/> at a time, each in a session of its own; then totals the results,
/// compares them with a baseline if given, and stores the report. Thread-safe.
/// </summary>
public sealed class EvaluationBatchRunner
{
    /// <summary>The most cases that may run at once.</summary>
    public const int MaxConcurrency = 64;

    private readonly AgentRunner _runner;
    private readonly PresetCatalog _presets;
    private readonly EvaluationStore _store;
    private readonly TimeProvider _time;

    internal EvaluationBatchRunner(AgentRunner runner, PresetCatalog presets, EvaluationStore store, TimeProvider time)
    {
        _runner = runner;
        _presets = presets;
        _store = store;
        _time = time;
    }

    /// <summary>Runs the batch. <paramref name="onCaseDone"/> hears of each case as it finishes (in any order).</summary>
    /// <exception cref="ArgumentException">The request is invalid, or the preset lists no evaluators.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; cases already run stay stored as runs.</exception>
    public async Task<EvaluationBatchReport> RunAsync(
        EvaluationBatchRequest request, Func<EvaluationCaseResult, ValueTask>? onCaseDone = null, string? judge = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Concurrency is < 1 or > MaxConcurrency)
        {
            throw new ArgumentException($"Concurrency must be between 1 and {MaxConcurrency} (was {request.Concurrency}).");
        }

        var preset = _presets.Get(request.Preset);
        if (preset.Evaluators.Count == 0)
        {
            throw new ArgumentException(
                $"Preset '{preset.Name}' lists no evaluators, so there is nothing to score. Add e.g. 'evaluators: [topic_coverage, structure]' to {Path.GetFileName(preset.SourcePath)}.");
        }

        var batchId = Storage.RecordIds.NewVersion7(_time.GetUtcNow());
        var started = _time.GetUtcNow();
        var results = new EvaluationCaseResult[request.Cases.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = request.Concurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, request.Cases.Count), options, async (index, ct) =>
        {
            var item = request.Cases[index];
            var response = await _runner.RunAsync(new RunRequest
            {
                Preset = request.Preset,
                Query = item.Question,
                Provider = request.Provider,
                Model = request.Model,
                MaxOutputTokens = request.MaxOutputTokens,
                Purpose = Calls.ModelCallPurpose.Eval,
                Tags = [RunMetadata.EvaluationTag],
                Evaluation = new EvaluationHints { ExpectedTopics = item.ExpectedTopics, ReferenceAnswer = item.ReferenceAnswer, BatchId = batchId, CaseId = item.Id },
            }, null, ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (response.EvaluationPending)
            {
                // A case's score is the point of the batch: wait for it (it is scored in the background like any answer).
                response = response with { Quality = await _runner.WaitForQualityAsync(response.RunId, ct).ConfigureAwait(false) };
            }

            results[index] = ToResult(item, response);
            if (onCaseDone is not null)
            {
                await onCaseDone(results[index]).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);

        var judged = results.Select(r => r.JudgeCost).FirstOrDefault(c => c is not null);
        var report = new EvaluationBatchReport
        {
            BatchId = batchId,
            Dataset = request.Dataset,
            Preset = request.Preset,
            Provider = request.Provider ?? preset.Provider,
            Model = request.Model ?? preset.Model,
            Judge = judge ?? (judged is null ? null : $"{judged.Provider}:{judged.Model}"),
            Concurrency = request.Concurrency,
            StartedAt = started,
            EndedAt = _time.GetUtcNow(),
            Totals = Total(results),
            Cases = results,
        };
        return report;
    }

    /// <summary>Compares <paramref name="report"/> with <paramref name="baseline"/>: a mean-score fall beyond <paramref name="tolerance"/> points is a regression.</summary>
    public static EvaluationBatchReport CompareWith(EvaluationBatchReport report, EvaluationBatchReport baseline, string source, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(baseline);
        var before = baseline.Cases.GroupBy(c => c.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Score, StringComparer.Ordinal);
        var cases = report.Cases.Where(c => before.ContainsKey(c.Id))
            .Select(c => new CaseDelta(c.Id, before[c.Id], c.Score, Math.Round(c.Score - before[c.Id], 2))).ToArray();
        var delta = Math.Round(report.Totals.MeanScore - baseline.Totals.MeanScore, 2);
        return report with
        {
            Baseline = new BaselineComparison(source, baseline.BatchId, baseline.Totals.MeanScore, baseline.Totals.PassRate, delta,
                Math.Round(report.Totals.PassRate - baseline.Totals.PassRate, 4), tolerance, -delta > tolerance, cases),
        };
    }

    /// <summary>Stores the report, so the UI can show it and a later run can use it as its baseline (by batch id).</summary>
    public Task SaveAsync(EvaluationBatchReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        return _store.SaveBatchAsync(new EvaluationBatchRecord
        {
            Id = report.BatchId,
            Dataset = report.Dataset,
            PresetName = report.Preset,
            Judge = report.Judge,
            StartedAt = report.StartedAt.UtcDateTime,
            EndedAt = report.EndedAt.UtcDateTime,
            Cases = report.Totals.Cases,
            Passed = report.Totals.Passed,
            Failed = report.Totals.Failed,
            MeanScore = report.Totals.MeanScore,
            CostNanoUsd = NanoUsd.FromUsd(report.Totals.CostUsd),
            JudgeCostNanoUsd = NanoUsd.FromUsd(report.Totals.JudgeCostUsd),
            ReportJson = JsonSerializer.Serialize(report, SessionExporter.JsonOptions),
        }, cancellationToken);
    }

    /// <summary>The <paramref name="take"/> newest stored batches, newest first.</summary>
    public async Task<IReadOnlyList<EvaluationBatchSummary>> ListAsync(int take, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(take, 1);
        var records = await _store.ListBatchesAsync(take, cancellationToken).ConfigureAwait(false);
        return [.. records.Select(b => new EvaluationBatchSummary(
            b.Id, b.Dataset, b.PresetName, b.Judge, SessionStore.Utc(b.StartedAt), SessionStore.Utc(b.EndedAt), b.Cases, b.Passed, b.Failed, b.MeanScore,
            NanoUsd.ToUsd(b.CostNanoUsd), NanoUsd.ToUsd(b.JudgeCostNanoUsd)))];
    }

    /// <summary>A stored batch's report, or <see langword="null"/>.</summary>
    public async Task<EvaluationBatchReport?> LoadAsync(Guid batchId, CancellationToken cancellationToken)
    {
        var record = await _store.LoadBatchAsync(batchId, cancellationToken).ConfigureAwait(false);
        return record is null ? null : JsonSerializer.Deserialize<EvaluationBatchReport>(record.ReportJson, SessionExporter.JsonOptions);
    }

    private static EvaluationCaseResult ToResult(EvaluationCase item, AgentResponse response) => new()
    {
        Id = item.Id,
        Question = item.Question,
        Tags = item.Tags,
        RunId = response.RunId,
        Status = response.Status,
        Answer = response.Text,
        Score = response.Status == RunStatus.Completed ? response.Quality?.Score ?? 0 : 0,
        Passed = response.Status == RunStatus.Completed && response.Quality?.Passed == true,
        Metrics = response.Quality?.Metrics ?? [],
        Error = response.Error,
        EvaluationError = response.Status == RunStatus.Completed && response.Quality is null ? "The answer was not evaluated (see the application log)." : response.Quality?.Error,
        Usage = response.Usage,
        Cost = response.Cost,
        JudgeCost = response.Quality?.JudgeCost,
        LatencyMs = Math.Round(response.Duration.TotalMilliseconds, 1),
        TimeToFirstTokenMs = response.TimeToFirstToken is { } t ? Math.Round(t.TotalMilliseconds, 1) : null,
    };

    private static EvaluationBatchTotals Total(EvaluationCaseResult[] cases)
    {
        var count = cases.Length;
        static RunUsage Sum(IEnumerable<RunUsage> usages) => usages.Aggregate(RunUsage.Zero, (a, u) =>
            new RunUsage(a.InputTokens + u.InputTokens, a.CachedInputTokens + u.CachedInputTokens, a.OutputTokens + u.OutputTokens, a.ReasoningTokens + u.ReasoningTokens));
        var completed = cases.Where(c => c.Status == RunStatus.Completed).ToArray();
        return new EvaluationBatchTotals(
            count,
            completed.Length,
            count - completed.Length,
            cases.Count(c => c.Passed),
            count == 0 ? 0 : Math.Round(cases.Average(c => c.Score), 2),
            count == 0 ? 0 : Math.Round((double)cases.Count(c => c.Passed) / count, 4),
            cases.Sum(c => c.Cost.Usd ?? 0m),
            cases.Count(c => !c.Cost.IsPriced && c.Status != RunStatus.BudgetExceeded),
            cases.Sum(c => c.JudgeCost?.Cost.Usd ?? 0m),
            Sum(cases.Select(c => c.Usage)),
            Sum(cases.Select(c => c.JudgeCost?.Usage ?? RunUsage.Zero)),
            LatencyPercentiles.Of(completed.Select(c => c.LatencyMs).ToArray()),
            cases.SelectMany(c => c.Metrics).Where(m => m.NormalizedScore is not null).GroupBy(m => m.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => Math.Round(g.Average(m => m.NormalizedScore!.Value), 4), StringComparer.Ordinal));
    }
}
