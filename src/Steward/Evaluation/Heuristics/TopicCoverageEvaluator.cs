using System.Globalization;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// <c>topic_coverage</c>: the share of expected topics the answer covers (0–1). A topic counts when its words appear
/// in a row in any inflection ("risk" covers "risks", "trade-offs" covers "tradeoffs"), or when one of the preset's
/// synonyms for it does. Without expected topics the metric is inconclusive and left out of the score.
/// </summary>
internal sealed class TopicCoverageEvaluator : HeuristicEvaluator
{
    public const string MetricName = "topic_coverage";

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [MetricName];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        var topics = expectations?.ExpectedTopics ?? [];
        if (topics.Count == 0)
        {
            yield return StewardMetrics.Inconclusive(MetricName, "No expected topics: set expected_topics in the preset or the dataset case.");
            yield break;
        }

        var covered = new List<string>();
        var missing = new List<string>();
        foreach (var topic in topics)
        {
            var synonyms = expectations!.TopicSynonyms.TryGetValue(topic, out var s) ? s : [];
            var match = new[] { topic }.Concat(synonyms).Select(p => answer.Find(p)).FirstOrDefault(m => m is not null);
            if (match is null)
            {
                missing.Add(topic);
            }
            else
            {
                covered.Add(string.Equals(match, topic, StringComparison.OrdinalIgnoreCase) ? topic : $"{topic} (as '{match}')");
            }
        }

        var share = (double)covered.Count / topics.Count;
        var reason = string.Create(CultureInfo.InvariantCulture, $"Covers {covered.Count} of {topics.Count} expected topics") +
            (covered.Count > 0 ? ": " + string.Join(", ", covered) : "") +
            (missing.Count > 0 ? "; missing: " + string.Join(", ", missing) + "." : ".");
        yield return StewardMetrics.Numeric(MetricName, share, share, reason);
    }
}
