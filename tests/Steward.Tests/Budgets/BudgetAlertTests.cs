using Microsoft.Extensions.Time.Testing;
using Steward.Agents;
using Steward.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

public sealed class BudgetAlertTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Thresholds_FireOncePerPeriodAndAgainAfterTheBoundary()
    {
        await using var hooks = await FakeModelServer.StartAsync();
        // Europe/Paris: the daily boundary is 23:00 UTC in winter, which the clock crosses below.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 21, 0, 0, TimeSpan.Zero));
        // The hook listens on loopback, which webhooks reach only when the operator allows it.
        var (engine, _) = await BudgetTestSupport.StartAsync(s =>
        {
            s["Steward:Budgets:TimeZone"] = "Europe/Paris";
            s["Steward:Budgets:AllowPrivateWebhooks"] = "true";
        }, time);
        await using var __ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        // Each run spends 30% of the budget.
        var limit = perRun * 10 / 3;
        await engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy
        {
            Id = "daily-tokens", Scope = BudgetScope.Global, Period = BudgetPeriod.Daily, MaxTokens = limit, Mode = BudgetMode.Soft,
            Thresholds = [50, 80, 100], Webhook = hooks.BaseUrl + "/hooks/budget",
        }, Ct);

        async Task<List<string>> RunAsync()
        {
            var notes = new List<string>();
            var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" },
                p => { if (p.Message.Contains(" budget '", StringComparison.Ordinal)) { notes.Add(p.Message); } return ValueTask.CompletedTask; }, Ct);
            Assert.Equal(RunStatus.Completed, response.Status);
            return notes;
        }

        Assert.Empty(await RunAsync());                                    // 30%
        // The CLI's words: the scope, the share with its sign apart, the day it counts, amounts grouped in thousands.
        Assert.Matches(@"^Global budget 'daily-tokens' reached 50 % in \d{4}-\d{2}-\d{2}: \d{1,3}(,\d{3})* of \d{1,3}(,\d{3})* tokens\.$", Assert.Single(await RunAsync())); // 60%
        Assert.Contains("reached 80 %", Assert.Single(await RunAsync()), StringComparison.Ordinal);  // 90%
        Assert.Contains("reached 100 %", Assert.Single(await RunAsync()), StringComparison.Ordinal); // 120% (soft: allowed)
        Assert.Empty(await RunAsync());                                    // 150%: each threshold fired already

        time.Advance(TimeSpan.FromHours(2.5)); // 23:30 UTC = 00:30 in Paris: a new day
        Assert.Empty(await RunAsync());                                    // 30% of the new day
        Assert.Contains("reached 50 %", Assert.Single(await RunAsync()), StringComparison.Ordinal);

        await engine.Get<BudgetAlertNotifier>().Pending;
        // Deliveries run in parallel, off the run's path: their arrival order is not defined.
        var posted = hooks.Requests.Where(r => r.Path == "/hooks/budget").Select(r => r.Json).ToList();
        Assert.Equal(["2026-11-23:050", "2026-11-23:080", "2026-11-23:100", "2026-11-24:050"],
            posted.Select(p => $"{p["period"]!.GetValue<string>()}:{p["threshold_percent"]!.GetValue<int>():000}").Order(StringComparer.Ordinal));
        Assert.All(posted, p => Assert.Equal("steward.budget.threshold", p["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Thresholds_CallsAnsweredTogetherBeforeEitherIsStored_TheThresholdBetweenThemFires()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var __ = engine;
        var perCall = BudgetTestSupport.WorstCaseTokens(engine);
        // 75 % of the limit lies between one call's spend and two calls'.
        await engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy
        {
            Id = "all-tokens", Scope = BudgetScope.Global, Period = BudgetPeriod.None, MaxTokens = perCall * 2 - 2, Mode = BudgetMode.Soft, Thresholds = [75],
        }, Ct);
        var gate = engine.Get<IBudgetGate>();
        var first = await gate.ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct);
        var second = await gate.ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct);
        var used = new RunUsage(perCall - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0);

        // Both answered before either's run is stored (a run's spend is committed only once its record is): under load
        // that is the common case, and the second call's spend starts where the first's ended, not where the stored spend does.
        var alerts = new List<BudgetAlert>();
        alerts.AddRange(await first.SettleAsync(used, RunCost.Unpriced, Ct));
        alerts.AddRange(await second.SettleAsync(used, RunCost.Unpriced, Ct));
        await first.CommitAsync(Ct);
        await second.CommitAsync(Ct);

        Assert.Equal(75, Assert.Single(alerts).Threshold);
        var after = await gate.ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct);
        Assert.Empty(await after.SettleAsync(used, RunCost.Unpriced, Ct));
        await after.CommitAsync(Ct);
    }

    [Fact]
    public void Key_PeriodBoundaries_FollowTheConfiguredTimeZone()
    {
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        var instant = new DateTimeOffset(2026, 12, 31, 23, 30, 0, TimeSpan.Zero); // 00:30 on 1 January in Paris

        Assert.Equal("2027-01-01T00", BudgetPeriods.Key(BudgetPeriod.Hourly, instant, paris));
        Assert.Equal("2027-01-01", BudgetPeriods.Key(BudgetPeriod.Daily, instant, paris));
        Assert.Equal("2026-W53", BudgetPeriods.Key(BudgetPeriod.Weekly, instant, paris));
        Assert.Equal("2027-01", BudgetPeriods.Key(BudgetPeriod.Monthly, instant, paris));
        Assert.Equal("2026-12", BudgetPeriods.Key(BudgetPeriod.Monthly, instant, TimeZoneInfo.Utc));
        Assert.Equal("all", BudgetPeriods.Key(BudgetPeriod.None, instant, paris));
    }
}
