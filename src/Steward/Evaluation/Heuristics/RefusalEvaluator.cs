using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// Two metrics. <c>refusal</c> (true/false): the answer declines the request ("I can't help with that", "As an AI
/// I cannot…") in its opening, scoring 0 when it does. <c>hedging</c>: hedge phrases ("might", "I think", "it is
/// possible") per 100 words, scoring 1 up to one per 100 words and 0 from five.
/// </summary>
internal sealed partial class RefusalEvaluator : HeuristicEvaluator
{
    public const string RefusalMetric = "refusal";
    public const string HedgingMetric = "hedging";
    private const int OpeningCharacters = 300;

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [RefusalMetric, HedgingMetric];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        if (answer.Words.Count == 0)
        {
            yield return StewardMetrics.Inconclusive(RefusalMetric, "The answer is empty.");
            yield return StewardMetrics.Inconclusive(HedgingMetric, "The answer is empty.");
            yield break;
        }

        var opening = answer.Text.Length <= OpeningCharacters ? answer.Text : answer.Text[..OpeningCharacters];
        var refusal = Refusal().Match(opening);
        yield return refusal.Success
            ? StewardMetrics.Boolean(RefusalMetric, true, 0, $"The answer declines the request (\"{refusal.Value.Trim()}\").")
            : StewardMetrics.Boolean(RefusalMetric, false, 1, "The answer does not decline the request.");

        var hedges = Hedge().Matches(answer.Text).Select(m => m.Value.ToLowerInvariant()).ToArray();
        var density = 100.0 * hedges.Length / answer.Words.Count;
        var score = Math.Clamp(1 - ((density - 1) / 4), 0, 1);
        var reason = hedges.Length == 0
            ? "No hedging phrases."
            : string.Create(CultureInfo.InvariantCulture, $"{hedges.Length} hedging phrase(s), {density:0.0} per 100 words: ") +
              string.Join(", ", hedges.GroupBy(h => h).Select(g => g.Count() > 1 ? $"{g.Key} ×{g.Count()}" : g.Key)) + ".";
        yield return StewardMetrics.Numeric(HedgingMetric, Math.Round(density, 2), score, reason);
    }

    [GeneratedRegex(@"\b(I\s*(?:'m|am)\s+(?:sorry,?\s+but\s+I\s+)?(?:not\s+able|unable)\s+to|I\s+(?:can(?:'|no)t|cannot|won't|will\s+not)\s+(?:help|assist|provide|do\s+that|comply|answer|share|fulfil+)|As\s+an\s+AI(?:\s+language\s+model)?,?\s+I\s+(?:can(?:'|no)t|cannot|don't|do\s+not)|I\s+must\s+(?:decline|refuse)|I'm\s+sorry,\s+but\s+I\s+can(?:'|no)t)", RegexOptions.IgnoreCase)]
    private static partial Regex Refusal();

    [GeneratedRegex(@"\b(might|may\s+be|possibly|perhaps|maybe|I\s+think|I\s+believe|I'm\s+not\s+sure|not\s+entirely\s+sure|it\s+seems|it\s+appears|could\s+be|it\s+is\s+possible|arguably|to\s+some\s+extent|somewhat|probably)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Hedge();
}
