using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using Steward.Web.Analytics;
using Steward.Web.Tests.Queries;

namespace Steward.Web.Tests.Analytics;

/// <summary>What a new user saw wrong on Analytics (issue 18, defect 10).</summary>
public sealed class AnalyticsDefectTests : BunitContext
{
    public AnalyticsDefectTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    private static Steward.Evaluation.QualityTrendPoint Point(string preset, DateOnly day, int evaluations, double meanScore) =>
        new(preset, day, evaluations, meanScore, 1.0, 0, 0m, new Dictionary<string, double>());

    [Fact]
    public void QualityTrend_OneDayOfScores_IsDrawn()
    {
        var trend = AnalyticsCharts.QualityTrend([Point("tech_advisor", new DateOnly(2026, 11, 30), 2, 81.5)]);

        var cut = Render<StewardChart>(p => p
            .Add(c => c.Type, AnalyticsCharts.TrendType(trend))
            .Add(c => c.Labels, trend.Labels)
            .Add(c => c.Series, trend.Series));

        // A line of one point is no line: something with an area must be drawn for the one day there is.
        var drawn = cut.FindAll("svg path, svg rect").Where(e => e.ClassList.Any(c => c.Contains("bar", StringComparison.Ordinal) || c.Contains("line", StringComparison.Ordinal))).ToArray();
        Assert.True(drawn.Length > 0, cut.Markup);
        Assert.Equal(ChartType.Bar, AnalyticsCharts.TrendType(trend));
    }

    [Fact]
    public void QualityTrend_TwoDays_IsALine()
    {
        var trend = AnalyticsCharts.QualityTrend(
        [
            Point("a", new DateOnly(2026, 11, 29), 1, 70), Point("a", new DateOnly(2026, 11, 30), 1, 80),
        ]);

        Assert.Equal(ChartType.Line, AnalyticsCharts.TrendType(trend));
    }

    [Fact]
    public async Task BudgetStatus_PresetBudgets_AreNamedByDisplayNameAndRequestBudgetsSayPerRequest()
    {
        await using var database = await QueryTestDatabase.CreateAsync(new Dictionary<string, string>
        {
            ["tech_advisor"] = """
                name: tech_advisor
                display_name: Tech Advisor
                instructions: Advise.
                budget:
                  max_tokens_per_request: 16000
                  max_tokens_per_session: 50000
                  daily_cost_usd: 5
                """,
        });

        var gauges = await database.Services.GetRequiredService<Steward.Budgets.BudgetStatusReader>().ReadAsync(Xunit.TestContext.Current.CancellationToken);

        Assert.NotEmpty(gauges);
        Assert.All(gauges, g => Assert.Equal("Tech Advisor", g.Name));
        Assert.All(gauges, g => Assert.DoesNotContain("preset:", g.Name + g.Applies, StringComparison.Ordinal));
        var request = Assert.Single(gauges, g => g.Policy.Scope == Steward.Budgets.BudgetScope.Request);
        Assert.Equal("checked per request", request.NotAccumulated);
        Assert.Equal("each request to Tech Advisor", request.Applies);
        var session = Assert.Single(gauges, g => g.Policy.Scope == Steward.Budgets.BudgetScope.Session);
        Assert.Equal("counted per session", session.NotAccumulated);
    }
}
