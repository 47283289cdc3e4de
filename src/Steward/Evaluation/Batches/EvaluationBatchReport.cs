using Steward.Agents;

namespace Steward.Evaluation.Batches;

/// <summary>
/// The outcome of a batch evaluation (<c>steward eval</c>): every case with its answer and metrics, the totals, and
/// the comparison with a baseline when one was given. Serialized as the JSON report, and stored for later baselines.
/// </summary>
public sealed record EvaluationBatchReport
{
    public required Guid BatchId { get; init; }
    public required string Dataset { get; init; }
    public required string Preset { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public string? Judge { get; init; }
    public int Concurrency { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset EndedAt { get; init; }
    public required EvaluationBatchTotals Totals { get; init; }
    public IReadOnlyList<EvaluationCaseResult> Cases { get; init; } = [];
    public BaselineComparison? Baseline { get; init; }
}

/// <summary>One case's outcome. A case whose run failed scores 0 and does not pass.</summary>
public sealed record EvaluationCaseResult
{
    public required string Id { get; init; }
    public required string Question { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public Guid RunId { get; init; }
    public RunStatus Status { get; init; }
    public string Answer { get; init; } = "";
    public double Score { get; init; }
    public bool Passed { get; init; }
    public IReadOnlyList<QualityMetric> Metrics { get; init; } = [];

    /// <summary>Why the run failed (the case then scores 0).</summary>
    public RunError? Error { get; init; }

    /// <summary>Why evaluation could not finish, when it could not.</summary>
    public string? EvaluationError { get; init; }

    public RunUsage Usage { get; init; } = RunUsage.Zero;
    public RunCost Cost { get; init; } = RunCost.Unpriced;
    public EvaluationCost? JudgeCost { get; init; }
    public double LatencyMs { get; init; }
    public double? TimeToFirstTokenMs { get; init; }
}

/// <summary>A batch's totals.</summary>
/// <param name="Cases">Cases in the dataset; every one is accounted for.</param>
/// <param name="Completed">Cases whose run completed.</param>
/// <param name="Failed">Cases whose run failed (provider error, budget refused, …).</param>
/// <param name="Passed">Cases whose answer reached the pass mark.</param>
/// <param name="MeanScore">Mean quality score over all cases (failed runs count 0).</param>
/// <param name="PassRate">Passed ÷ cases.</param>
/// <param name="CostUsd">What the answers cost (priced runs only).</param>
/// <param name="UnpricedCases">Cases whose model has no price, left out of <paramref name="CostUsd"/>.</param>
/// <param name="JudgeCostUsd">What the judge cost, apart from the answers.</param>
/// <param name="Tokens">The answers' tokens.</param>
/// <param name="JudgeTokens">The judge's tokens.</param>
/// <param name="Latency">End-to-end latency percentiles of the runs, in milliseconds.</param>
/// <param name="MetricMeans">Each metric's mean normalized score (0–1) over the cases where it was conclusive.</param>
public sealed record EvaluationBatchTotals(
    int Cases, int Completed, int Failed, int Passed, double MeanScore, double PassRate, decimal CostUsd, int UnpricedCases,
    decimal JudgeCostUsd, RunUsage Tokens, RunUsage JudgeTokens, LatencyPercentiles Latency, IReadOnlyDictionary<string, double> MetricMeans);

/// <summary>Latency percentiles in milliseconds (nearest rank).</summary>
public sealed record LatencyPercentiles(double P50, double P90, double P95, double P99, double Max)
{
    public static LatencyPercentiles Of(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return new LatencyPercentiles(0, 0, 0, 0, 0);
        }

        var sorted = values.Order().ToArray();
        double Rank(double p) => Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 1);
        return new LatencyPercentiles(Rank(0.5), Rank(0.9), Rank(0.95), Rank(0.99), Math.Round(sorted[^1], 1));
    }
}

/// <summary>How this batch compares with a baseline batch: positive deltas are improvements.</summary>
/// <param name="Source">The baseline's file or batch id.</param>
/// <param name="BaselineBatchId">The baseline batch's id.</param>
/// <param name="BaselineMeanScore">The baseline's mean score.</param>
/// <param name="BaselinePassRate">The baseline's pass rate.</param>
/// <param name="ScoreDelta">This mean score minus the baseline's.</param>
/// <param name="PassRateDelta">This pass rate minus the baseline's.</param>
/// <param name="Tolerance">How many points the mean score may fall before it counts as a regression.</param>
/// <param name="Regressed">Whether the mean score fell by more than <paramref name="Tolerance"/>.</param>
/// <param name="Cases">Per-case deltas, for cases (by id) in both batches.</param>
public sealed record BaselineComparison(
    string Source, Guid BaselineBatchId, double BaselineMeanScore, double BaselinePassRate, double ScoreDelta, double PassRateDelta,
    double Tolerance, bool Regressed, IReadOnlyList<CaseDelta> Cases);

/// <summary>One case's score now and in the baseline.</summary>
public sealed record CaseDelta(string Id, double BaselineScore, double Score, double Delta);

/// <summary>A stored batch as a list shows it: what ran, how it scored and what it cost (its report loads apart).</summary>
public sealed record EvaluationBatchSummary(
    Guid BatchId, string Dataset, string Preset, string? Judge, DateTimeOffset StartedAt, DateTimeOffset EndedAt, int Cases, int Passed, int Failed,
    double MeanScore, decimal? CostUsd, decimal? JudgeCostUsd)
{
    /// <summary>The share of cases that passed, 0–1.</summary>
    public double PassRate => Cases == 0 ? 0 : (double)Passed / Cases;
}
