using System.Globalization;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// <c>readability</c>: the Flesch reading-ease score (higher is easier; 60–70 is plain English, below 30 is
/// academic). It scores 1 from 60 up and falls to 0 at 10, so dense technical prose is marked down, not failed.
/// </summary>
internal sealed class ReadabilityEvaluator : HeuristicEvaluator
{
    public const string MetricName = "readability";

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [MetricName];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        if (answer.Words.Count == 0)
        {
            yield return StewardMetrics.Inconclusive(MetricName, "The answer is empty: nothing to read.");
            yield break;
        }

        var ease = ReadingEase(answer);
        var score = Math.Clamp((ease - 10) / 50, 0, 1);
        var band = ease switch
        {
            >= 70 => "easy",
            >= 60 => "plain English",
            >= 50 => "fairly difficult",
            >= 30 => "difficult",
            _ => "very difficult",
        };
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"Flesch reading ease {ease:0.0} ({band}): {answer.Words.Count} words in {Math.Max(1, answer.Sentences)} sentence(s).");
        yield return StewardMetrics.Numeric(MetricName, Math.Round(ease, 1), score, reason);
    }

    internal static double ReadingEase(AnswerText answer)
    {
        var words = answer.Words.Count;
        var sentences = Math.Max(1, answer.Sentences);
        var syllables = answer.Words.Sum(AnswerText.Syllables);
        return 206.835 - (1.015 * words / sentences) - (84.6 * syllables / words);
    }
}
