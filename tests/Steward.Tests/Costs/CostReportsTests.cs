using Microsoft.EntityFrameworkCore;
using Steward.Costs;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Costs;

/// <summary>Cost reports over runs stored in SQLite.</summary>
public sealed class CostReportsSqliteTests : CostReportsTests
{
    protected override string Storage => "sqlite";
}

/// <summary>Cost reports over runs stored in PostgreSQL: the same report, the same figures.</summary>
public sealed class CostReportsPostgresTests : CostReportsTests
{
    protected override string Storage => "postgres";
}

/// <summary>Cost reports over runs stored in a real database (one subclass per provider).</summary>
public abstract class CostReportsTests : IAsyncLifetime
{
    protected abstract string Storage { get; }

    private static readonly Guid AnalystSession = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid AdvisorSession = Guid.Parse("22222222-2222-2222-2222-222222222222");

    private TestEngine _engine = null!;

    private CostReports Reports => _engine.Get<CostReports>();

    public async ValueTask InitializeAsync()
    {
        var database = await TestPostgres.DatabaseForAsync(Storage);
        _engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }
        });
        await SeedAsync(_engine, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        var folder = _engine.Folder;
        await _engine.DisposeAsync();
        Directory.Delete(folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Five runs. Thursday 2026-11-19 is in the week of Monday 2026-11-16; Monday 2026-11-23 starts the next week.
    /// <list type="bullet">
    /// <item>r1 analyst openai/gpt-4o 11-20 10:00 — in 1,000 (200 cached), out 500: $0.01</item>
    /// <item>r2 analyst openai/gpt-4o 11-20 23:30 — in 2,000, out 1,000 (300 reasoning): $0.02</item>
    /// <item>r3 advisor openai/gpt-4o-mini 11-21 01:00 — in 500, out 100: $0.001</item>
    /// <item>r4 advisor lab/mystery-model 11-21 02:00 — in 300, out 50: unpriced</item>
    /// <item>r5 advisor openai/gpt-4o-mini 11-23 09:00 — refused by a budget: no tokens, no cost</item>
    /// </list>
    /// </summary>
    internal static async Task SeedAsync(TestEngine engine, CancellationToken cancellationToken)
    {
        var factory = engine.Get<IDbContextFactory<StewardDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        var created = new DateTime(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);
        db.Sessions.Add(new SessionRecord { Id = AnalystSession, Title = "a", PresetName = "analyst", CreatedAt = created, UpdatedAt = created });
        db.Sessions.Add(new SessionRecord { Id = AdvisorSession, Title = "b", PresetName = "advisor", CreatedAt = created, UpdatedAt = created });
        db.Runs.AddRange(
            Run(AnalystSession, "analyst", "openai", "gpt-4o", At(20, 10, 0), 1_000, 200, 500, 0, 10_000_000),
            Run(AnalystSession, "analyst", "openai", "gpt-4o", At(20, 23, 30), 2_000, 0, 1_000, 300, 20_000_000),
            Run(AdvisorSession, "advisor", "openai", "gpt-4o-mini", At(21, 1, 0), 500, 0, 100, 0, 1_000_000),
            Run(AdvisorSession, "advisor", "lab", "mystery-model", At(21, 2, 0), 300, 0, 50, 0, null),
            Run(AdvisorSession, "advisor", "openai", "gpt-4o-mini", At(23, 9, 0), 0, 0, 0, 0, null, "BudgetExceeded"));
        await db.SaveChangesAsync(cancellationToken);

        static DateTime At(int day, int hour, int minute) => new(2026, 11, day, hour, minute, 0, DateTimeKind.Utc);
    }

    private static RunRecord Run(Guid session, string agent, string provider, string model, DateTime startedAt,
        long input, long cached, long output, long reasoning, long? costNanoUsd, string status = "Completed") => new()
    {
        Id = Guid.NewGuid(), SessionId = session, PresetName = agent, PresetVersion = "1", Provider = provider, Model = model,
        Query = "q", Status = status, StartedAt = startedAt, EndedAt = startedAt.AddSeconds(2), InputTokens = input,
        CachedInputTokens = cached, OutputTokens = output, ReasoningTokens = reasoning, CostNanoUsd = costNanoUsd, Owner = "test",
    };

    [Fact]
    public async Task GetTotalsAsync_AllRuns_SumsPricedAndCountsUnpricedApart()
    {
        var totals = await Reports.GetTotalsAsync(new CostFilter(), TestContext.Current.CancellationToken);

        // $0.01 + $0.02 + $0.001; the unpriced run is counted, not added as $0; the refused run is neither.
        Assert.Equal(new CostSummary(5, 3, 1, 0.031m, new TokenBreakdown(
            UncachedInput: 800 + 2_000 + 500 + 300, CachedInput: 200, NonReasoningOutput: 500 + 700 + 100 + 50, Reasoning: 300)), totals);
        Assert.True(totals.HasUnpriced);
    }

    [Fact]
    public async Task GetReportAsync_ByAgent_OneRowPerPresetMostExpensiveFirst()
    {
        var byAgent = (await Reports.GetReportAsync(new CostFilter(), cancellationToken: TestContext.Current.CancellationToken)).ByAgent;

        Assert.Equal(["analyst", "advisor"], byAgent.Select(a => a.Agent));
        Assert.Equal((2L, 2L, 0L, 0.03m), Figures(byAgent[0].Summary));
        Assert.Equal((3L, 1L, 1L, 0.001m), Figures(byAgent[1].Summary));
    }

    [Fact]
    public async Task GetReportAsync_ByModel_OneRowPerProviderAndModel()
    {
        var byModel = (await Reports.GetReportAsync(new CostFilter(), cancellationToken: TestContext.Current.CancellationToken)).ByModel;

        Assert.Equal([("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("lab", "mystery-model")], byModel.Select(m => (m.Provider, m.Model)));
        Assert.Equal((2L, 2L, 0L, 0.03m), Figures(byModel[0].Summary));
        Assert.Equal((2L, 1L, 0L, 0.001m), Figures(byModel[1].Summary));
        Assert.Equal((1L, 0L, 1L, 0m), Figures(byModel[2].Summary));
    }

    [Fact]
    public async Task GetByDayAsync_Utc_OneRowPerUtcDayOldestFirst()
    {
        var byDay = await Reports.GetByDayAsync(new CostFilter(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([new DateOnly(2026, 11, 20), new DateOnly(2026, 11, 21), new DateOnly(2026, 11, 23)], byDay.Select(d => d.Start));
        Assert.Equal((2L, 2L, 0L, 0.03m), Figures(byDay[0].Summary));
        Assert.Equal((2L, 1L, 1L, 0.001m), Figures(byDay[1].Summary));
        Assert.Equal((1L, 0L, 0L, 0m), Figures(byDay[2].Summary));
    }

    [Fact]
    public async Task GetByDayAsync_HalfHourOffsetZone_DaysBeginAtLocalMidnight()
    {
        // UTC+05:30: r2 (11-20 23:30 UTC) is 11-21 05:00 local, so it moves to the 21st with r3 and r4.
        var zone = TimeZoneInfo.CreateCustomTimeZone("Test+05:30", TimeSpan.FromMinutes(330), "Test+05:30", "Test+05:30");

        var byDay = await Reports.GetByDayAsync(new CostFilter(), zone, TestContext.Current.CancellationToken);

        Assert.Equal([new DateOnly(2026, 11, 20), new DateOnly(2026, 11, 21), new DateOnly(2026, 11, 23)], byDay.Select(d => d.Start));
        Assert.Equal((1L, 1L, 0L, 0.01m), Figures(byDay[0].Summary));
        Assert.Equal((3L, 2L, 1L, 0.021m), Figures(byDay[1].Summary));
    }

    [Fact]
    public async Task GetReportAsync_ByWeek_WeeksStartOnMonday()
    {
        var byWeek = (await Reports.GetReportAsync(new CostFilter(), cancellationToken: TestContext.Current.CancellationToken)).ByWeek;

        Assert.Equal([new DateOnly(2026, 11, 16), new DateOnly(2026, 11, 23)], byWeek.Select(w => w.Start));
        Assert.Equal((4L, 3L, 1L, 0.031m), Figures(byWeek[0].Summary));
        Assert.Equal((1L, 0L, 0L, 0m), Figures(byWeek[1].Summary));
    }

    [Theory]
    [InlineData("agent", 2, 0.03)]
    [InlineData("model", 2, 0.001)]
    [InlineData("provider", 1, 0)]
    [InlineData("session", 3, 0.001)]
    [InlineData("period", 2, 0.001)]
    public async Task GetTotalsAsync_Filter_NarrowsRuns(string by, int expectedRuns, double expectedUsd)
    {
        var filter = by switch
        {
            "agent" => new CostFilter { Agent = "analyst" },
            "model" => new CostFilter { Model = "gpt-4o-mini" },
            "provider" => new CostFilter { Provider = "lab" },
            "session" => new CostFilter { SessionId = AdvisorSession },
            _ => new CostFilter { From = new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero) },
        };

        var totals = await Reports.GetTotalsAsync(filter, TestContext.Current.CancellationToken);

        Assert.Equal(expectedRuns, totals.Runs);
        Assert.Equal((decimal)expectedUsd, totals.CostUsd);
    }

    [Fact]
    public async Task GetReportAsync_NoMatchingRuns_EmptyReport()
    {
        var report = await Reports.GetReportAsync(new CostFilter { Agent = "nobody" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(CostSummary.Empty, report.Totals);
        Assert.Empty(report.ByAgent);
        Assert.Empty(report.ByDay);
        Assert.Empty(report.ByWeek);
    }

    private static (long Runs, long Priced, long Unpriced, decimal Usd) Figures(CostSummary s) => (s.Runs, s.PricedRuns, s.UnpricedRuns, s.CostUsd);
}
