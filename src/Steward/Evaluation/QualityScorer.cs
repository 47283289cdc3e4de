using Microsoft.Extensions.AI.Evaluation;
using Steward.Agents;

namespace Steward.Evaluation;

/// <summary>
/// Turns evaluator metrics into a 0–100 quality score: the weighted mean of each conclusive metric's normalized
/// score. A metric's normalized score is the one a Steward evaluator attached (<see cref="StewardMetrics.ScoreKey"/>);
/// for custom evaluators it is read from the value (a boolean, or a number already in 0–1) or else the rating
/// (Exceptional 1, Good 0.75, Average 0.5, Poor 0.25, Unacceptable 0). Inconclusive metrics do not count.
/// </summary>
public static class QualityScorer
{
    /// <summary>The metric mapped to 0–1, or <see langword="null"/> when it does not count.</summary>
    public static double? Normalize(EvaluationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (StewardMetrics.ScoreOf(metric) is { } score)
        {
            return score;
        }

        if (metric.Interpretation?.Rating is EvaluationRating.Inconclusive or EvaluationRating.Unknown)
        {
            return null;
        }

        switch (metric)
        {
            case BooleanMetric { Value: { } b }:
                return b ? 1 : 0;
            case NumericMetric { Value: { } n } when n is >= 0 and <= 1:
                return n;
        }

        return metric.Interpretation?.Rating switch
        {
            EvaluationRating.Exceptional => 1,
            EvaluationRating.Good => 0.75,
            EvaluationRating.Average => 0.5,
            EvaluationRating.Poor => 0.25,
            EvaluationRating.Unacceptable => 0,
            _ => null,
        };
    }

    /// <summary>The weighted score (0–100) of the metrics that count, or <see langword="null"/> when none does.</summary>
    public static double? Score(IEnumerable<QualityMetric> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var counted = metrics.Where(m => m.NormalizedScore is not null && m.Weight > 0).ToArray();
        var weight = counted.Sum(m => m.Weight);
        return weight <= 0 ? null : Math.Round(100 * counted.Sum(m => m.Weight * m.NormalizedScore!.Value) / weight, 2);
    }
}
