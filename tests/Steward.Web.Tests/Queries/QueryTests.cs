using Microsoft.Extensions.DependencyInjection;
using Steward.Costs;
using Steward.Analytics;
using Steward.Web.Analytics;
using Steward.Sessions;
using Steward.Web.History;

namespace Steward.Web.Tests.Queries;

public sealed class QueryTests
{
    private static readonly DateTime Day = new(2026, 11, 20, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task SessionSearch_TextFilter_MatchesTitleOrQuestionAndTreatsWildcardsLiterally()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        await db.AddAsync(
            QueryTestDatabase.Session("About penguins", "p", Day, QueryTestDatabase.Run("hello", Day)),
            QueryTestDatabase.Session("Other", "p", Day.AddMinutes(1), QueryTestDatabase.Run("what do penguins eat", Day)),
            QueryTestDatabase.Session("100% sure", "p", Day.AddMinutes(2), QueryTestDatabase.Run("x", Day)),
            QueryTestDatabase.Session("1000 sure", "p", Day.AddMinutes(3), QueryTestDatabase.Run("y", Day)));
        var search = db.Services.GetRequiredService<SessionSearch>();

        var penguins = await search.SearchAsync(new SessionFilter { Text = "PENGUINS" }, 0, 10, TestContext.Current.CancellationToken);
        var percent = await search.SearchAsync(new SessionFilter { Text = "0%" }, 0, 10, TestContext.Current.CancellationToken);

        Assert.Equal(["Other", "About penguins"], penguins.Rows.Select(r => r.Title));
        Assert.Equal("100% sure", Assert.Single(percent.Rows).Title);
    }

    [Fact]
    public async Task SessionSearch_EvaluationCases_AreLeftOutUnlessAskedFor()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        var evalRun = QueryTestDatabase.Run("case 1", Day, purpose: "eval");
        await db.AddAsync(QueryTestDatabase.Session("a conversation", "p", Day, QueryTestDatabase.Run("hello", Day)),
            QueryTestDatabase.Session("case 1", "p", Day.AddMinutes(1), evalRun));
        var search = db.Services.GetRequiredService<SessionSearch>();

        var plain = await search.SearchAsync(new SessionFilter(), 0, 10, TestContext.Current.CancellationToken);
        var all = await search.SearchAsync(new SessionFilter { IncludeEvaluation = true }, 0, 10, TestContext.Current.CancellationToken);

        Assert.Equal(["a conversation"], plain.Rows.Select(r => r.Title));
        Assert.Equal(1, plain.Total);
        Assert.Equal(["case 1", "a conversation"], all.Rows.Select(r => r.Title));
    }

    [Fact]
    public async Task SessionSearch_CostAndAgentFiltersWithPaging_CountAllMatchesAndReturnOnePage()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        for (var i = 0; i < 30; i++)
        {
            await db.AddAsync(QueryTestDatabase.Session($"s{i}", i % 2 == 0 ? "even" : "odd", Day.AddMinutes(i),
                QueryTestDatabase.Run("q", Day, costNano: i * 1_000_000_000L), QueryTestDatabase.Run("q2", Day, costNano: null)));
        }

        var search = db.Services.GetRequiredService<SessionSearch>();
        var page = await search.SearchAsync(new SessionFilter { Agent = "even", MinCostUsd = 10m, MaxCostUsd = 24m }, 2, 3, TestContext.Current.CancellationToken);

        Assert.Equal(8, page.Total); // 10, 12, …, 24
        Assert.Equal(["s20", "s18", "s16"], page.Rows.Select(r => r.Title));
        Assert.Equal(20m, page.Rows[0].CostUsd);
        Assert.Equal(1, page.Rows[0].UnpricedRuns);
        Assert.Equal("$20.00 + 1 unpriced", page.Rows[0].CostText);
        Assert.Equal(2, page.Rows[0].Runs);
        Assert.Equal(30, page.Rows[0].Tokens);
    }

    [Fact]
    public async Task SessionSearch_StoppedRunOnASelfHostedModel_CostSaysSelfHostedNotUnpricedOrBareZero()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        var stopped = QueryTestDatabase.Run("tell me a story", Day, costNano: 0, status: "Cancelled");
        stopped.Calls = [new Steward.Storage.ModelCallRecord
        {
            Id = Guid.NewGuid(), RunId = stopped.Id, Purpose = "agent", Sequence = 1, Provider = "local", Model = "stories260K.gguf", StartedAt = Day,
            InputTokens = 10, OutputTokens = 5, CostNanoUsd = 0, SelfHosted = true, Status = "Cancelled",
        }];
        var cloud = QueryTestDatabase.Run("hello", Day, costNano: 0);
        cloud.Calls = [new Steward.Storage.ModelCallRecord
        {
            Id = Guid.NewGuid(), RunId = cloud.Id, Purpose = "agent", Sequence = 1, Provider = "prov", Model = "m", StartedAt = Day,
            InputTokens = 10, OutputTokens = 5, CostNanoUsd = 0, Status = "Completed",
        }];
        await db.AddAsync(QueryTestDatabase.Session("local", "p", Day, stopped), QueryTestDatabase.Session("cloud", "p", Day.AddMinutes(1), cloud));
        var search = db.Services.GetRequiredService<SessionSearch>();

        var rows = (await search.SearchAsync(new SessionFilter(), 0, 10, TestContext.Current.CancellationToken)).Rows;

        Assert.Equal("$0 (self-hosted)", rows.Single(r => r.Title == "local").CostText);
        Assert.Equal(15, rows.Single(r => r.Title == "local").Tokens);
        Assert.Equal("$0", rows.Single(r => r.Title == "cloud").CostText);
    }

    [Fact]
    public async Task SessionSearch_TagAndUserFilters_KeepSessionsWithSuchARun()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        var tagged = QueryTestDatabase.Run("tagged", Day, userId: "ann");
        tagged.Tags = [new Steward.Storage.RunTagRecord { RunId = tagged.Id, Tag = "beta" }];
        await db.AddAsync(QueryTestDatabase.Session("with tag", "p", Day, tagged, QueryTestDatabase.Run("plain", Day)),
            QueryTestDatabase.Session("without", "p", Day.AddMinutes(1), QueryTestDatabase.Run("plain", Day)));
        var search = db.Services.GetRequiredService<SessionSearch>();

        var byTag = await search.SearchAsync(new SessionFilter { Tag = "beta" }, 0, 10, TestContext.Current.CancellationToken);
        var byUser = await search.SearchAsync(new SessionFilter { UserId = "ann" }, 0, 10, TestContext.Current.CancellationToken);
        var nobody = await search.SearchAsync(new SessionFilter { UserId = "bob" }, 0, 10, TestContext.Current.CancellationToken);

        Assert.Equal(["with tag"], byTag.Rows.Select(r => r.Title));
        Assert.Equal(["with tag"], byUser.Rows.Select(r => r.Title));
        Assert.Equal(0, nobody.Total);
    }

    [Fact]
    public async Task Latency_UpToTheExactLimit_NearestRankPercentilesAreTheMatchingCompletedRunsOwnDurations()
    {
        await using var db = await LatencyDatabaseAsync(settings: null);
        var analytics = db.Services.GetRequiredService<AnalyticsQueries>();

        var latency = await analytics.GetLatencyAsync(new CostFilter { Model = "m" }, TestContext.Current.CancellationToken);
        var unfiltered = await analytics.GetLatencyAsync(new CostFilter(), TestContext.Current.CancellationToken);
        var empty = await analytics.GetLatencyAsync(new CostFilter { Agent = "nobody" }, TestContext.Current.CancellationToken);

        // What the runs themselves show (a bucket's middle would read 4,011 for the run of 4,080.4 ms).
        Assert.Equal(new LatencyPercentiles(100, 50, 90, 95, 99) { Exact = true }, latency);
        Assert.Equal(new LatencyPercentiles(101, 51, 91, 96, 4080.4) { Exact = true }, unfiltered);
        Assert.Equal(new LatencyPercentiles(0, null, null, null, null), empty);
    }

    [Fact]
    public async Task Latency_PastTheExactLimit_PercentilesAreTheirHistogramBucketsWithin2Percent()
    {
        await using var atTheLimit = await LatencyDatabaseAsync(new Dictionary<string, string?> { ["Steward:Reports:ExactPercentilesUpTo"] = "101" });
        await using var db = await LatencyDatabaseAsync(new Dictionary<string, string?> { ["Steward:Reports:ExactPercentilesUpTo"] = "100" });
        var analytics = db.Services.GetRequiredService<AnalyticsQueries>();

        var exact = await atTheLimit.Services.GetRequiredService<AnalyticsQueries>().GetLatencyAsync(new CostFilter(), TestContext.Current.CancellationToken);
        var pastIt = await analytics.GetLatencyAsync(new CostFilter(), TestContext.Current.CancellationToken);
        // One run, but among the window's 101: not read exactly, or a window of a million runs would be read whole.
        var fewOfMany = await analytics.GetLatencyAsync(new CostFilter { Model = "other" }, TestContext.Current.CancellationToken);

        Assert.Equal(new LatencyPercentiles(101, 51, 91, 96, 4080.4) { Exact = true }, exact);
        Assert.Equal(new LatencyPercentiles(101, Bucketed(51), Bucketed(91), Bucketed(96), Bucketed(4080.4)), pastIt);
        Assert.InRange(pastIt.P95!.Value, 96 / 1.0222, 96 * 1.0222);
        Assert.Equal(new LatencyPercentiles(1, Bucketed(50_000), Bucketed(50_000), Bucketed(50_000), Bucketed(50_000)), fewOfMany);

        static double Bucketed(double ms) => LatencyBuckets.Value(LatencyBuckets.Of(ms));
    }

    // 100 completed runs of model "m" taking 1..99 ms and 4,080.4 ms, a failed run, and a completed run of another model (50 s).
    private static async Task<QueryTestDatabase> LatencyDatabaseAsync(IReadOnlyDictionary<string, string?>? settings)
    {
        var db = await QueryTestDatabase.CreateAsync(settings: settings);
        var runs = Enumerable.Range(1, 99).Select(i => QueryTestDatabase.Run("q", Day, durationMs: i)).ToList();
        runs.Add(QueryTestDatabase.Run("slow", Day, durationMs: 4080.4));
        runs.Add(QueryTestDatabase.Run("failed", Day, durationMs: 100_000, status: "Failed"));
        runs.Add(QueryTestDatabase.Run("other model", Day, durationMs: 50_000, model: "other"));
        await db.AddAsync(QueryTestDatabase.Session("s", "p", Day, [.. runs]));
        return db;
    }

    [Fact]
    public async Task Analytics_Snapshot_ReportsCostsByAgentAndTheFilterChoices()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        await db.AddAsync(QueryTestDatabase.Session("s", "p", Day, QueryTestDatabase.Run("a", Day), QueryTestDatabase.Run("b", Day.AddDays(1), model: "other")));
        var analytics = db.Services.GetRequiredService<AnalyticsQueries>();

        var snapshot = await analytics.GetAsync(new CostFilter(), TestContext.Current.CancellationToken);
        var chart = AnalyticsCharts.OverTime(snapshot.Costs.ByDay, ChartMeasure.Cost, byWeek: false);

        Assert.Equal(2, snapshot.Costs.Totals.Runs);
        Assert.Equal(["m", "other"], snapshot.Models);
        Assert.Equal(["11-20", "11-21"], chart.Labels);
        Assert.True(chart.HasData);
    }

    [Fact]
    public async Task Analytics_JudgeCalls_AreTheirOwnCostSeriesBesideTheAnswers()
    {
        await using var db = await QueryTestDatabase.CreateAsync();
        var scored = QueryTestDatabase.Run("a", Day, costNano: 2_000_000_000);
        scored.Calls.Add(new Steward.Storage.ModelCallRecord
        {
            Id = Guid.NewGuid(), Purpose = "judge", Sequence = 1, PresetName = "p", Provider = "j", Model = "judge-model", StartedAt = Day.AddDays(1),
            InputTokens = 10, OutputTokens = 5, CostNanoUsd = 500_000_000, Status = "Completed",
        });
        await db.AddAsync(QueryTestDatabase.Session("s", "p", Day, scored));
        var analytics = db.Services.GetRequiredService<AnalyticsQueries>();

        var costs = await analytics.GetCostsAsync(new CostFilter(), TestContext.Current.CancellationToken);
        var chart = AnalyticsCharts.OverTime(costs.ByDay, ChartMeasure.Cost, byWeek: false, costs.JudgesByDay);

        Assert.Equal((2m, 0.5m), (costs.Totals.CostUsd, costs.Judges.CostUsd));
        Assert.Equal(["11-20", "11-21"], chart.Labels);
        Assert.Equal(["Answers (USD)", "Judges (USD)"], chart.Series.Select(s => s.Name));
        Assert.Equal([2.0, 0.0], chart.Series[0].Data.Values);
        Assert.Equal([0.0, 0.5], chart.Series[1].Data.Values);
        // In tokens too: a self-hosted judge costs nothing, but its tokens are real.
        var tokens = AnalyticsCharts.OverTime(costs.ByDay, ChartMeasure.Tokens, byWeek: false, costs.JudgesByDay);
        Assert.Equal("Judges (all tokens)", tokens.Series[^1].Name);
        Assert.Equal([0.0, 15.0], tokens.Series[^1].Data.Values);
    }
}
