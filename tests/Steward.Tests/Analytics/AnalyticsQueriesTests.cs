using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Analytics;
using Steward.Costs;
using Steward.Storage;
using Steward.Tests.Costs;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Analytics;

public sealed class AnalyticsQueriesSqliteTests : AnalyticsQueriesTests
{
    protected override string Storage => "sqlite";
}

public sealed class AnalyticsQueriesPostgresTests : AnalyticsQueriesTests
{
    protected override string Storage => "postgres";
}

/// <summary>
/// The read models the CLI and the web UI share, by value, on each provider, with days in the configured time zone
/// (Asia/Kolkata, UTC+05:30: a run at 23:30 UTC falls on the next local day).
/// </summary>
public abstract class AnalyticsQueriesTests : IAsyncLifetime
{
    private TestEngine _engine = null!;

    protected abstract string Storage { get; }

    private AnalyticsQueries Analytics => _engine.Get<AnalyticsQueries>();

    public async ValueTask InitializeAsync()
    {
        var database = await TestPostgres.DatabaseForAsync(Storage);
        _engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }

            s["Steward:Reports:TimeZone"] = "Asia/Kolkata";
        });
        await CostReportsTests.SeedAsync(_engine, TestContext.Current.CancellationToken);
        await SeedEvaluationsAsync(_engine);
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Scores for the seeded runs: analyst's r1 (11-20 10:00 UTC, 80, passed, relevance 0.9) and r2 (11-20 23:30 UTC = 11-21
    /// 05:00 local, 40, failed, relevance 0.3), advisor's r3 (11-21 01:00 UTC, 60, passed, an error, judge $0.002).
    /// </summary>
    private static async Task SeedEvaluationsAsync(TestEngine engine)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
        var runs = await db.Runs.OrderBy(r => r.StartedAt).ToListAsync(ct);
        for (var i = 0; i < runs.Count; i++)
        {
            runs[i].DurationMs = (i + 1) * 100;
        }

        db.Evaluations.AddRange(
            Evaluation(runs[0], 80, passed: true, relevance: 0.9),
            Evaluation(runs[1], 40, passed: false, relevance: 0.3),
            Evaluation(runs[2], 60, passed: true, relevance: null, error: "judge timed out", judgeNano: 2_000_000));
        await db.SaveChangesAsync(ct);

        static EvaluationRecord Evaluation(RunRecord run, double score, bool passed, double? relevance, string? error = null, long? judgeNano = null) => new()
        {
            RunId = run.Id, PresetName = run.PresetName, EvaluatedAt = run.StartedAt.AddMinutes(1), Score = score, Passed = passed, PassThreshold = 50,
            Error = error, JudgeCostNanoUsd = judgeNano,
            Metrics = relevance is { } r ? [new EvaluationMetricRecord { RunId = run.Id, Sequence = 1, Name = "relevance", Evaluator = "judge", NormalizedScore = r, Weight = 1 }] : [],
        };
    }

    [Fact]
    public async Task GetCostsAsync_ConfiguredTimeZone_DaysBeginAtLocalMidnightAndSayWhichZone()
    {
        var costs = await Analytics.GetCostsAsync(new CostFilter(), TestContext.Current.CancellationToken);

        Assert.Equal("Asia/Kolkata", costs.TimeZone);
        Assert.Equal([new DateOnly(2026, 11, 20), new DateOnly(2026, 11, 21), new DateOnly(2026, 11, 23)], costs.ByDay.Select(d => d.Start));
        Assert.Equal([1L, 3L, 1L], costs.ByDay.Select(d => d.Summary.Runs));
        Assert.Equal([0.01m, 0.021m, 0m], costs.ByDay.Select(d => d.Summary.CostUsd));
        Assert.Equal((5L, 0.031m), (costs.Totals.Runs, costs.Totals.CostUsd));
        Assert.Equal(costs.Totals, costs.ByAgent.Select(a => a.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)));
    }

    [Fact]
    public async Task GetQualityTrendAsync_ConfiguredTimeZone_OnePointPerAgentAndLocalDay()
    {
        var trend = await Analytics.GetQualityTrendAsync(new CostFilter(), TestContext.Current.CancellationToken);

        Assert.Equal(
            [("advisor", new DateOnly(2026, 11, 21)), ("analyst", new DateOnly(2026, 11, 20)), ("analyst", new DateOnly(2026, 11, 21))],
            trend.Select(p => (p.Preset, p.Day)));
        var advisor = trend[0];
        Assert.Equal((1, 60.0, 1.0, 1, 0.002m), (advisor.Evaluations, advisor.MeanScore, advisor.PassRate, advisor.Errors, advisor.JudgeCostUsd));
        Assert.Empty(advisor.MetricMeans);
        Assert.Equal((1, 80.0, 1.0, 0.9), (trend[1].Evaluations, trend[1].MeanScore, trend[1].PassRate, trend[1].MetricMeans["relevance"]));
        Assert.Equal((1, 40.0, 0.0, 0.3), (trend[2].Evaluations, trend[2].MeanScore, trend[2].PassRate, trend[2].MetricMeans["relevance"]));
    }

    [Fact]
    public async Task GetQualityTrendAsync_ModelFilter_OnlyAnswersOfRunsOnThatModel()
    {
        var trend = await Analytics.GetQualityTrendAsync(new CostFilter { Model = "gpt-4o" }, TestContext.Current.CancellationToken);

        Assert.Equal(2, trend.Count);
        Assert.All(trend, p => Assert.Equal("analyst", p.Preset));
        Assert.Equal(60.0, trend.Sum(p => p.MeanScore * p.Evaluations) / trend.Sum(p => p.Evaluations));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1000001")]
    public void ExactPercentilesUpTo_OutOfRange_RefusedAtStartNamingTheSettingWithTheBadTimeZoneToo(string limit)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Reports:ExactPercentilesUpTo"] = limit,
            ["Steward:Reports:TimeZone"] = "Mars/Olympus",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ReportOptions>>().Value);
        Assert.Contains($"Steward:Reports:ExactPercentilesUpTo is {limit}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mars/Olympus", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetLatencyAsync_FilteredAndNot_NearestRankOfCompletedRuns()
    {
        var all = await Analytics.GetLatencyAsync(new CostFilter(), TestContext.Current.CancellationToken);
        var advisor = await Analytics.GetLatencyAsync(new CostFilter { Agent = "advisor" }, TestContext.Current.CancellationToken);

        // Completed runs r1..r4 took 100..400 ms; the refused r5 is left out. So few runs are read exactly.
        Assert.Equal(new LatencyPercentiles(4, 200, 400, 400, 400) { Exact = true }, all);
        Assert.Equal(new LatencyPercentiles(2, 300, 400, 400, 400) { Exact = true }, advisor);
    }
}
