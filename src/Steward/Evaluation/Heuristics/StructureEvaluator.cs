using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// <c>structure</c>: the share of the preset's layout expectations the answer meets (0–1): headings or none,
/// a least number of sections, a list, and no paragraph longer than the limit. With no expectations set, paragraph
/// length is checked, and an answer over 150 words must have some headings or a list.
/// </summary>
internal sealed partial class StructureEvaluator : HeuristicEvaluator
{
    public const string MetricName = "structure";
    private const int LongAnswerWords = 150;

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [MetricName];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        if (answer.Words.Count == 0)
        {
            yield return StewardMetrics.Numeric(MetricName, 0, 0, "The answer is empty.");
            yield break;
        }

        var layout = Layout.Of(answer.Text);
        var expected = expectations?.Structure ?? StructureExpectations.Default;
        var checks = new List<(bool Met, string Description)>();
        if (expected.Headings is { } headings)
        {
            checks.Add(headings
                ? (layout.Headings > 0, layout.Headings > 0 ? $"has {layout.Headings} heading(s)" : "has no headings (the preset asks for them)")
                : (layout.Headings == 0, layout.Headings == 0 ? "has no headings, as asked" : $"has {layout.Headings} heading(s) (the preset asks for none)"));
        }

        if (expected.MinSections is { } sections)
        {
            checks.Add((layout.Headings >= sections, $"{layout.Headings} section(s) of at least {sections}"));
        }

        if (expected.Lists is { } lists)
        {
            checks.Add(lists
                ? (layout.ListItems > 0, layout.ListItems > 0 ? $"has a list ({layout.ListItems} item(s))" : "has no list (the preset asks for one)")
                : (layout.ListItems == 0, layout.ListItems == 0 ? "has no list, as asked" : "has a list (the preset asks for none)"));
        }

        if (expected.Headings is null && expected.Lists is null && expected.MinSections is null && answer.Words.Count > LongAnswerWords)
        {
            var structured = layout.Headings + layout.ListItems > 0;
            checks.Add((structured, structured ? "a long answer with headings or lists" : $"{answer.Words.Count} words with no headings or lists"));
        }

        var longest = layout.ParagraphWords.DefaultIfEmpty(0).Max();
        checks.Add((longest <= expected.MaxParagraphWords,
            string.Create(CultureInfo.InvariantCulture, $"longest paragraph {longest} words (limit {expected.MaxParagraphWords})")));

        var met = checks.Count(c => c.Met);
        var share = (double)met / checks.Count;
        var reason = string.Create(CultureInfo.InvariantCulture, $"{met} of {checks.Count} layout checks met: ") +
            string.Join("; ", checks.Select(c => (c.Met ? "✓ " : "✗ ") + c.Description)) + ".";
        yield return StewardMetrics.Numeric(MetricName, share, share, reason);
    }

    /// <summary>The Markdown layout of an answer: headings, list items and the word count of each prose paragraph.</summary>
    internal sealed record Layout(int Headings, int ListItems, IReadOnlyList<int> ParagraphWords)
    {
        public static Layout Of(string text)
        {
            var headings = 0;
            var items = 0;
            var paragraphs = new List<int>();
            var current = 0;
            var inCode = false;
            foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
            {
                var line = raw.Trim();
                if (line.StartsWith("```", StringComparison.Ordinal))
                {
                    inCode = !inCode;
                    Flush();
                    continue;
                }

                if (inCode)
                {
                    continue;
                }

                if (line.Length == 0)
                {
                    Flush();
                }
                else if (Heading().IsMatch(line))
                {
                    headings++;
                    Flush();
                }
                else if (ListItem().IsMatch(line) || line.StartsWith('|'))
                {
                    items += line.StartsWith('|') ? 0 : 1;
                    Flush();
                }
                else
                {
                    current += AnswerText.CountWords(line);
                }
            }

            Flush();
            return new Layout(headings, items, paragraphs);

            void Flush()
            {
                if (current > 0)
                {
                    paragraphs.Add(current);
                }

                current = 0;
            }
        }
    }

    // "# Title", or a line that is only bold text ("**Risks**" / "**Risks:**"), as models write section titles.
    [GeneratedRegex(@"^(#{1,6}\s+\S|\*\*[^*]{1,80}\*\*:?$|__[^_]{1,80}__:?$)")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^([-*+•]|\d{1,3}[.)])\s+\S")]
    private static partial Regex ListItem();
}
