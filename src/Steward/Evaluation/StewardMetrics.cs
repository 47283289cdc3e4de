using System.Globalization;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation;

/// <summary>
/// How Steward's evaluators say what counts towards the quality score. Each of their metrics carries its value mapped
/// to 0–1 in the metadata entry <see cref="ScoreKey"/>; a custom evaluator may do the same, or leave it to the
/// interpretation's rating (see <see cref="QualityScorer"/>).
/// </summary>
public static class StewardMetrics
{
    /// <summary>Metadata key of a metric's normalized score (0–1, invariant culture).</summary>
    public const string ScoreKey = "steward.score";

    /// <summary>Metadata keys of the judge's usage on a judge metric.</summary>
    public const string JudgeInputTokensKey = "steward.judge.input_tokens";

    /// <summary>Metadata key of the judge's output tokens on a judge metric.</summary>
    public const string JudgeOutputTokensKey = "steward.judge.output_tokens";

    /// <summary>A numeric metric whose normalized score is <paramref name="score"/>, rated from it.</summary>
    public static NumericMetric Numeric(string name, double? value, double? score, string reason, double failBelow = 0.5)
    {
        var metric = new NumericMetric(name, value, reason);
        Rate(metric, score, reason, failBelow);
        return metric;
    }

    /// <summary>A boolean metric whose normalized score is <paramref name="score"/>, rated from it.</summary>
    public static BooleanMetric Boolean(string name, bool? value, double? score, string reason, double failBelow = 0.5)
    {
        var metric = new BooleanMetric(name, value, reason);
        Rate(metric, score, reason, failBelow);
        return metric;
    }

    /// <summary>A metric that could not be determined: it is stored with its reason and left out of the score.</summary>
    public static NumericMetric Inconclusive(string name, string reason, string? diagnostic = null)
    {
        var metric = new NumericMetric(name, null, reason)
        {
            Interpretation = new EvaluationMetricInterpretation(EvaluationRating.Inconclusive, failed: false, reason),
        };
        if (diagnostic is not null)
        {
            metric.AddDiagnostics(EvaluationDiagnostic.Error(diagnostic));
        }

        return metric;
    }

    /// <summary>The normalized score a Steward evaluator attached, if any.</summary>
    public static double? ScoreOf(EvaluationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        return metric.Metadata is { } meta && meta.TryGetValue(ScoreKey, out var text) &&
               double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
            ? Math.Clamp(score, 0, 1)
            : null;
    }

    private static void Rate(EvaluationMetric metric, double? score, string reason, double failBelow)
    {
        if (score is not { } s)
        {
            metric.Interpretation = new EvaluationMetricInterpretation(EvaluationRating.Inconclusive, failed: false, reason);
            return;
        }

        s = Math.Clamp(s, 0, 1);
        metric.AddOrUpdateMetadata(ScoreKey, s.ToString("R", CultureInfo.InvariantCulture));
        var rating = s switch
        {
            >= 0.9 => EvaluationRating.Exceptional,
            >= 0.7 => EvaluationRating.Good,
            >= 0.5 => EvaluationRating.Average,
            >= 0.25 => EvaluationRating.Poor,
            _ => EvaluationRating.Unacceptable,
        };
        metric.Interpretation = new EvaluationMetricInterpretation(rating, failed: s < failBelow, reason);
    }
}
