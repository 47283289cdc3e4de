using System.Globalization;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// <c>length</c>: the answer's word count, scored against the preset's <c>min_words</c>/<c>max_words</c> (1 inside the
/// range, falling in proportion outside it). Without limits, any non-trivial answer (5 words or more) scores 1.
/// </summary>
internal sealed class LengthEvaluator : HeuristicEvaluator
{
    public const string MetricName = "length";
    private const int TrivialWords = 5;

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [MetricName];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        var words = answer.Words.Count;
        var structure = expectations?.Structure ?? StructureExpectations.Default;
        var min = structure.MinWords ?? TrivialWords;
        var (score, reason) = words switch
        {
            0 => (0.0, "The answer is empty."),
            _ when words < min => ((double)words / min, $"{words} words, fewer than the {min} expected."),
            _ when structure.MaxWords is { } max && words > max => ((double)max / words, $"{words} words, more than the {max} allowed."),
            _ => (1.0, structure.MaxWords is { } m ? $"{words} words, within {min}–{m}." : $"{words} words."),
        };
        yield return StewardMetrics.Numeric(MetricName, words, score, string.Create(CultureInfo.InvariantCulture, $"{reason}"));
    }
}
