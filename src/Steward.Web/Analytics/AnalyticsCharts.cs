using System.Globalization;
using MudBlazor;
using Steward.Costs;

namespace Steward.Web.Analytics;

/// <summary>What the cost charts measure. Self-hosted models cost nothing, so their charts are only useful in tokens.</summary>
internal enum ChartMeasure
{
    Cost,
    Tokens,
}

/// <summary>Labels and series for one chart.</summary>
internal sealed record ChartSet(string[] Labels, List<ChartSeries<double>> Series)
{
    public static ChartSet Empty { get; } = new([], []);

    /// <summary>Whether any value is drawn (a chart of zeros looks like a broken chart).</summary>
    public bool HasData => Series.Any(s => s.Data.Values.Any(v => v is > 0));
}

/// <summary>Turns a <see cref="CostReport"/> into chart data; no figures are computed here beyond picking the measure.</summary>
internal static class AnalyticsCharts
{
    public static ChartMeasure DefaultMeasure(CostReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.Totals.CostUsd > 0 ? ChartMeasure.Cost : ChartMeasure.Tokens;
    }

    /// <summary>
    /// Cost or tokens per day or week; with <paramref name="judges"/> (the LLM-as-judge calls that scored the answers, by
    /// day) their cost is a series of its own beside the answers'.
    /// </summary>
    public static ChartSet OverTime(IReadOnlyList<PeriodCost> periods, ChartMeasure measure, bool byWeek, IReadOnlyList<PeriodCost>? judges = null)
    {
        ArgumentNullException.ThrowIfNull(periods);
        judges ??= [];
        var starts = periods.Select(p => p.Start).Concat(judges.Select(j => byWeek ? WeekOf(j.Start) : j.Start)).Distinct().Order().ToArray();
        var labels = starts.Select(s => byWeek ? "w/c " + s.ToString("MM-dd", CultureInfo.InvariantCulture) : s.ToString("MM-dd", CultureInfo.InvariantCulture)).ToArray();
        var answers = periods.ToDictionary(p => p.Start, p => p.Summary);
        if (measure == ChartMeasure.Cost)
        {
            var answerCost = Series("Answers (USD)", starts.Select(s => answers.TryGetValue(s, out var a) ? (double)a.CostUsd : 0));
            return new ChartSet(labels, judges.Count == 0 ? [answerCost] : [answerCost, JudgeSeries("Judges (USD)", j => (double)j.CostUsd)]);
        }

        periods = [.. starts.Select(s => new PeriodCost(s, answers.TryGetValue(s, out var a) ? a : CostSummary.Empty))];

        // Token buckets are exclusive, so stacking them adds up to the total and counts nothing twice; the judges' tokens
        // (a self-hosted judge costs nothing, yet may read several times the answer) stack on top as one series.
        List<ChartSeries<double>> series =
        [
            Series("Input (uncached)", periods.Select(p => (double)p.Summary.Tokens.UncachedInput)),
            Series("Cached input", periods.Select(p => (double)p.Summary.Tokens.CachedInput)),
            Series("Output", periods.Select(p => (double)p.Summary.Tokens.NonReasoningOutput)),
            Series("Reasoning", periods.Select(p => (double)p.Summary.Tokens.Reasoning)),
        ];
        if (judges.Count > 0)
        {
            series.Add(JudgeSeries("Judges (all tokens)", j => j.Tokens.Total));
        }

        return new ChartSet(labels, series);

        // The judges' figure per period shown, their days summed into weeks when by week.
        ChartSeries<double> JudgeSeries(string name, Func<CostSummary, double> figure)
        {
            var byStart = judges.GroupBy(j => byWeek ? WeekOf(j.Start) : j.Start).ToDictionary(g => g.Key, g => g.Sum(j => figure(j.Summary)));
            return Series(name, starts.Select(s => byStart.TryGetValue(s, out var value) ? value : 0));
        }
    }

    private static DateOnly WeekOf(DateOnly day) => day.AddDays(-(((int)day.DayOfWeek + 6) % 7));

    public static ChartSet ByGroup(IReadOnlyList<(string Label, CostSummary Summary)> groups, ChartMeasure measure)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var labels = groups.Select(g => g.Label).ToArray();
        return measure == ChartMeasure.Cost
            ? new ChartSet(labels, [Series("Cost (USD)", groups.Select(g => (double)g.Summary.CostUsd))])
            : new ChartSet(labels, [Series("Tokens", groups.Select(g => (double)g.Summary.Tokens.Total))]);
    }

    public static ChartSet TokenBreakdown(TokenBreakdown tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return new ChartSet(
            ["Input (uncached)", "Cached input", "Output", "Reasoning"],
            [Series("Tokens", [tokens.UncachedInput, tokens.CachedInput, tokens.NonReasoningOutput, tokens.Reasoning])]);
    }

    /// <summary>One line per agent over the days any agent was scored; a day an agent was not scored is a gap, not a zero.</summary>
    public static ChartSet QualityTrend(IReadOnlyList<Steward.Evaluation.QualityTrendPoint> days)
    {
        ArgumentNullException.ThrowIfNull(days);
        var axis = days.Select(d => d.Day).Distinct().Order().ToArray();
        var labels = axis.Select(d => d.ToString("MM-dd", CultureInfo.InvariantCulture)).ToArray();
        var series = days.GroupBy(d => d.Preset, StringComparer.Ordinal).Select(agent =>
        {
            var byDay = agent.ToDictionary(d => d.Day, d => d.MeanScore);
            IReadOnlyList<double?> values = axis.Select(day => byDay.TryGetValue(day, out var score) ? score : (double?)null).ToArray();
            return new ChartSeries<double> { Name = agent.Key, Data = new ChartData<double>(values) };
        }).ToList();
        return new ChartSet(labels, series);
    }

    /// <summary>
    /// A line needs two points: with scores on one day only, a line chart draws nothing at all, so the trend is drawn as
    /// bars until there is a second day.
    /// </summary>
    public static ChartType TrendType(ChartSet trend)
    {
        ArgumentNullException.ThrowIfNull(trend);
        return trend.Labels.Length < 2 ? ChartType.Bar : ChartType.Line;
    }

    private static ChartSeries<double> Series(string name, IEnumerable<double> values) => new() { Name = name, Data = new ChartData<double>(values.ToArray()) };
}
