using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Steward.Agents;
using Steward.Budgets;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

public sealed class BudgetLedgerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task RunAsync_500ConcurrentRuns_ExactlyTheRunsThatFitSucceedAndSpendNeverExceedsTheLimit(string provider)
    {
        const int fits = 37;
        long perRun = 0;
        var (engine, model) = await BudgetTestSupport.StartAsync(database: await TestPostgres.DatabaseForAsync(provider));
        await using var _ = engine;
        perRun = BudgetTestSupport.WorstCaseTokens(engine);
        await engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = fits * perRun }, Ct);

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ =>
            Task.Run(() => engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct), Ct)));

        Assert.Empty(responses.Where(r => r.Status is not (RunStatus.Completed or RunStatus.BudgetExceeded)).Select(r => $"{r.Status}: {r.Error?.Message}"));
        Assert.Equal(fits, responses.Count(r => r.Status == RunStatus.Completed));
        Assert.Equal(500 - fits, responses.Count(r => r.Status == RunStatus.BudgetExceeded));
        Assert.Equal(fits, model.Calls); // refused runs never reached the model
        var counter = await BudgetTestSupport.CounterAsync(engine, "global");
        Assert.Equal(fits * perRun, counter.SpentTokens); // overspend: 0
        Assert.Equal(0, counter.ReservedTokens);
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ReserveAsync_500Concurrent_NoOverspendAndNoRefusalWhileTheBudgetSuffices(string storage)
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(database: await TestPostgres.DatabaseForAsync(storage));
        await using var __ = engine;
        var gate = engine.Get<IBudgetGate>();
        var preset = engine.Get<PresetCatalog>().Get("assistant");
        var provider = engine.Get<ProviderCatalog>().Resolve(null, null);
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        const int fits = 123;
        await engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = fits * perRun }, Ct);
        var falseRefusals = 0;
        var refusals = 0;

        var granted = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => Task.Run(async () =>
        {
            try
            {
                var reservation = await gate.ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct);
                await Task.Yield();
                await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));
                return 1;
            }
            catch (BudgetExceededException ex)
            {
                Interlocked.Increment(ref refusals);
                // A refusal is false if what was spent and held, plus this request, would still have fitted.
                if (ex.Spent + ex.Reserved + ex.Needed <= ex.Limit)
                {
                    Interlocked.Increment(ref falseRefusals);
                }

                return 0;
            }
        }, Ct)));

        Assert.Equal(fits, granted.Sum());
        Assert.Equal(0, falseRefusals);
        Assert.Equal(500 - fits, refusals);
        var counter = await BudgetTestSupport.CounterAsync(engine, "global");
        Assert.Equal(fits * perRun, counter.SpentTokens);
        Assert.Equal(0, counter.ReservedTokens);
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task RunAsync_1000FailingOrCancelledRuns_LeakNoReservation(string provider)
    {
        var (engine, model) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "global", "Global", "Daily", tokens: 1_000_000_000), database: await TestPostgres.DatabaseForAsync(provider));
        await using var _ = engine;
        var failing = 0;
        model.Failure = () => Interlocked.Increment(ref failing) % 2 == 0 ? new InvalidOperationException("model crashed") : new HttpRequestException("boom");
        var failed = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ => engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct)));
        model.Failure = null;
        model.Delay = token => Task.Delay(Timeout.Infinite, token);
        var cancelled = await Task.WhenAll(Enumerable.Range(0, 500).Select(async _ =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 50)));
            return await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: cts.Token);
        }));

        Assert.All(failed, r => Assert.Equal(RunStatus.Failed, r.Status));
        Assert.All(cancelled, r => Assert.Equal(RunStatus.Cancelled, r.Status));
        var period = BudgetPeriods.Key(BudgetPeriod.Daily, DateTimeOffset.UtcNow, TimeZoneInfo.Utc);
        var counter = await BudgetTestSupport.CounterAsync(engine, "global", period);
        Assert.Equal((0L, 0L, 0L), (counter.ReservedTokens, counter.ReservedNanoUsd, counter.SpentTokens));
        Assert.Equal((0L, 0L), engine.Get<BudgetEscrow>().HeldByRuns);
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
    }

    [Fact]
    public async Task RunAsync_OverAgentDailyBudget_RefusalNamesScopePeriodLimitSpentReservedAndNeeded()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        var (engine, model) = await BudgetTestSupport.StartAsync(time: time);
        await using var _ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        await engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy
        {
            Id = "assistant-daily", Scope = BudgetScope.Agent, Agent = "assistant", Period = BudgetPeriod.Daily, MaxTokens = perRun + 1,
        }, Ct);

        var first = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);
        var events = new List<RunProgress>();
        var second = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" },
            p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Completed, first.Status);
        Assert.Equal(RunStatus.BudgetExceeded, second.Status);
        Assert.Equal(RunStage.BudgetExceeded, events[^1].Stage);
        Assert.Equal(
            $"Budget exceeded for agent 'assistant' budget 'assistant-daily' (2026-11-23): limit {perRun + 1} tokens, spent {perRun}, reserved 0 by requests in flight, this request needs up to {perRun}.",
            second.Error!.Message);
        Assert.Equal(1, model.Calls);

        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(RunStatus.Completed, (await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct)).Status);
    }

    [Fact]
    public async Task RunAsync_UnpricedModelUnderUsdLimit_IsRefusedWithAFix()
    {
        var (engine, model) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "spend", "Global", "Monthly", usd: 10m));
        await using var _ = engine;

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.BudgetExceeded, response.Status);
        Assert.Contains("'fake-model' has no price", response.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("Steward:Pricing:Models", response.Error.Message, StringComparison.Ordinal);
        Assert.Equal(0, model.Calls);
    }

    [Fact]
    public async Task RunAsync_SessionTokenBudgetFromPreset_StopsTheSessionButNotOthers()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var __ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine, "Hello");
        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "assistant.yaml"),
            Steward.Tests.TestSupport.TestEngine.Preset("assistant", $"budget:\n  max_tokens_per_session: {perRun + 10}"), Ct);

        var first = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello" }, cancellationToken: Ct);
        var again = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello", SessionId = first.SessionId }, cancellationToken: Ct);
        var other = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, first.Status);
        Assert.Equal(RunStatus.BudgetExceeded, again.Status);
        Assert.Contains("session budget 'preset:assistant:session'", again.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Completed, other.Status);
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task RunAsync_SessionContinuedByAnotherProcess_ItsBudgetCountsEveryStoredTurn(string storage)
    {
        var database = await TestPostgres.DatabaseForAsync(storage);
        var (first, _) = await BudgetTestSupport.StartAsync(database: database);
        await using var __ = first;
        var (second, _) = await BudgetTestSupport.StartAsync(folder: first.Folder, database: database);
        await using var ___ = second;
        var preset = Path.Combine(first.AgentsFolder, "assistant.yaml");
        await File.WriteAllTextAsync(preset, Steward.Tests.TestSupport.TestEngine.Preset("assistant", "budget:\n  max_tokens_per_session: 1000000"), Ct);

        // The conversation starts in one process and goes on at once in another (the web app, then the CLI).
        var one = await first.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello" }, cancellationToken: Ct);
        var two = await second.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello again", SessionId = one.SessionId }, cancellationToken: Ct);
        await second.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        // The cap now leaves less than any turn's worst case: the third turn, back in the first process, is refused, and
        // the refusal counts both turns once each, whichever process ran them.
        var spent = one.Usage.TotalTokens + two.Usage.TotalTokens;
        await File.WriteAllTextAsync(preset, Steward.Tests.TestSupport.TestEngine.Preset("assistant", $"budget:\n  max_tokens_per_session: {spent + 10}"), Ct);
        var three = await first.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "And again", SessionId = one.SessionId }, cancellationToken: Ct);

        Assert.Equal((RunStatus.Completed, RunStatus.Completed, RunStatus.BudgetExceeded), (one.Status, two.Status, three.Status));
        Assert.Contains($"spent {spent}, reserved 0", three.Error!.Message, StringComparison.Ordinal);
    }
}

public sealed class BudgetLedgerMultiProcessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BudgetRequest Hi(TestEngine engine) => BudgetTestSupport.CallRequest(engine);

    [Fact]
    public async Task ReserveAsync_HeadroomAnotherProcessHolds_NeverOverspendsAndGoesBackWhenThatProcessIsIdle()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (first, _) = await BudgetTestSupport.StartAsync(time: time);
        await using var _ = first;
        var (second, _) = await BudgetTestSupport.StartAsync(folder: first.Folder);
        await using var __ = second;
        var perRun = BudgetTestSupport.WorstCaseTokens(first);
        await first.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = 10 * perRun }, Ct);

        // The first process runs once and keeps headroom for its next runs.
        var one = await first.Get<IBudgetGate>().ReserveAsync(Hi(first), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(one, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));

        // The second process gets what is left, and no more: the limit holds across processes.
        var beforeReturn = await ReserveUntilRefusedAsync(second);
        Assert.InRange(beforeReturn, 1, 9);

        // Idle for a second, the first process gives its unused headroom back, and the second can use it: in all,
        // exactly the ten runs the budget fits.
        // A counter whose spend is not written yet is not idle: the first flush after the idle spell writes the spend,
        // the next gives the headroom back. Twice, then, whichever of them the flush loop (woken by the same advance) ran:
        // with one, a test that got there before the loop found the headroom still held (9 of 10, once under full load).
        time.Advance(TimeSpan.FromSeconds(2));
        await first.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);
        await first.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);
        var afterReturn = await ReserveUntilRefusedAsync(second);
        Assert.Equal(10, 1 + beforeReturn + afterReturn);
    }

    private static async Task<int> ReserveUntilRefusedAsync(TestEngine engine)
    {
        var gate = engine.Get<IBudgetGate>();
        for (var granted = 0; ; granted++)
        {
            try
            {
                await gate.ReserveAsync(Hi(engine), Ct);
            }
            catch (BudgetExceededException ex)
            {
                Assert.True(ex.Spent + ex.Reserved + ex.Needed > ex.Limit, ex.Message);
                return granted;
            }
        }
    }

    [Fact]
    public async Task SettleAsync_RunThatUsedMoreThanItsWorstCase_RecordsAllOfIt()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: 1_000_000));
        await using var _ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        var reservation = await engine.Get<IBudgetGate>().ReserveAsync(Hi(engine), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun, 0, 3 * perRun, 0));

        var counter = await BudgetTestSupport.CounterAsync(engine, "global");
        Assert.Equal((4 * perRun, 0L), (counter.SpentTokens, counter.ReservedTokens));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ReserveAsync_TwoProcessesSharingOneDatabase_StayExact(string storage)
    {
        var database = await TestPostgres.DatabaseForAsync(storage);
        var (engine, _) = await BudgetTestSupport.StartAsync(database: database);
        long perRun;
        string db, agents;
        await using (engine)
        {
            perRun = BudgetTestSupport.WorstCaseTokens(engine);
            (db, agents) = (database ?? engine.DatabasePath, engine.AgentsFolder);
        }

        const int fits = 150;
        var env = GlobalBudget(fits * perRun);
        // Two processes, 250 requests each, 32 at a time, racing for one budget that fits 150 from the same instant.
        var start = DateTimeOffset.UtcNow.AddSeconds(8).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => RunStressAsync(env, db, agents, "250", "32", start)));

        Assert.Equal(fits, results.Sum(r => r["granted"]!.GetValue<int>()));
        Assert.Equal(500 - fits, results.Sum(r => r["refused"]!.GetValue<int>()));
        Assert.Equal(0, results.Sum(r => r["false_refusals"]!.GetValue<int>()));
        // Every request of both processes was decided against the one shared counter (a process that won nothing was
        // refused because of the other's spend). Which process wins how many is not fair under saturation: SQLite
        // lets a busy writer re-take its lock before a waiting process retries.
        Assert.Equal(500, results.Sum(r => r["granted"]!.GetValue<int>() + r["refused"]!.GetValue<int>()));

        await using var reopened = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }
        }, folder: Path.GetDirectoryName(engine.DatabasePath));
        var counter = await BudgetTestSupport.CounterAsync(reopened, "global");
        Assert.Equal((fits * perRun, 0L), (counter.SpentTokens, counter.ReservedTokens));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ReserveAsync_OneOfTwoProcessesKilledMidway_ItsHoldsComeBackThroughTheSurvivorsSweep(string storage)
    {
        const int fits = 150;
        var database = await TestPostgres.DatabaseForAsync(storage);
        long perRun;
        string db, agents, folder;
        var (probe, _) = await BudgetTestSupport.StartAsync(database: database);
        await using (probe)
        {
            perRun = BudgetTestSupport.WorstCaseTokens(probe);
            (db, agents, folder) = (database ?? probe.DatabasePath, probe.AgentsFolder, probe.Folder);
        }

        // Short enough to wait for, long enough that a child starved of CPU on a loaded CI machine still renews its lease
        // before its holds are checked (at 3 s the survivor could sweep them before the check: seen in CI).
        const string timeout = "00:00:10";
        var env = GlobalBudget(fits * perRun);
        env["Steward__Budgets__ReservationTimeout"] = timeout;
        // The survivor: a process like any other, whose lease loop sweeps every third of the timeout.
        var (survivor, _) = await BudgetTestSupport.StartAsync(s =>
        {
            BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: fits * perRun);
            s["Steward:Budgets:ReservationTimeout"] = timeout;
        }, folder: folder, database: database);
        await using var _ = survivor;

        // The other process takes holds for 100 calls whose model never answers, and is killed mid-way.
        using (var child = CliProcess.StartDll(CliProcess.LedgerStressDll, env, db, agents, "100", "100", "0", "crash"))
        {
            child.StandardInput.Close();
            Assert.Equal("""{"reserved":100}""", await child.StandardOutput.ReadLineAsync(Ct));
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync(Ct);
        }

        var ledger = survivor.Get<BudgetLedger>();
        Assert.True((await ledger.ReadAsync([("global", "all")], Ct))[0].ReservedTokens >= 100 * perRun, "the killed process's holds are in the database");

        // Nobody restarts and nobody calls a sweep: the survivor's own loop hands the holds back.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        CounterState counter;
        do
        {
            await Task.Delay(200, Ct);
            counter = (await ledger.ReadAsync([("global", "all")], Ct))[0];
        }
        while (counter.ReservedTokens > 0 && DateTimeOffset.UtcNow < deadline);
        Assert.Equal(0, counter.ReservedTokens);

        // All of the budget is usable again: 250 concurrent requests of the survivor get exactly what fits.
        var (granted, falseRefusals) = await ReserveManyAsync(survivor, 250, perRun);
        Assert.Equal((fits, 0), (granted, falseRefusals));
        counter = await BudgetTestSupport.CounterAsync(survivor, "global");
        Assert.Equal((fits * perRun, 0L), (counter.SpentTokens, counter.ReservedTokens));
    }

    private static Dictionary<string, string> GlobalBudget(long tokens) => new()
    {
        ["Steward__Budgets__Policies__0__Id"] = "global",
        ["Steward__Budgets__Policies__0__Scope"] = "Global",
        ["Steward__Budgets__Policies__0__MaxTokens"] = tokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static async Task<System.Text.Json.Nodes.JsonNode> RunStressAsync(Dictionary<string, string> env, params string[] args)
    {
        using var process = CliProcess.StartDll(CliProcess.LedgerStressDll, env, args);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var errors = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.True(process.ExitCode == 0, errors);
        return System.Text.Json.Nodes.JsonNode.Parse(await output)!;
    }

    /// <summary>Reserves <paramref name="count"/> calls at once, settling each at its worst case; returns grants and false refusals.</summary>
    private static async Task<(int Granted, int FalseRefusals)> ReserveManyAsync(TestEngine engine, int count, long perRun)
    {
        var gate = engine.Get<IBudgetGate>();
        var falseRefusals = 0;
        var granted = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            try
            {
                var reservation = await gate.ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct);
                await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));
                return 1;
            }
            catch (BudgetExceededException ex)
            {
                if (ex.Spent + ex.Reserved + ex.Needed <= ex.Limit)
                {
                    Interlocked.Increment(ref falseRefusals);
                }

                return 0;
            }
        }, Ct)));
        return (granted.Sum(), falseRefusals);
    }
}

public sealed class ResponseCacheBudgetTests
{
    [Fact]
    public async Task RunAsync_ResponseServedFromCache_CostsNothingAndSpendsNoBudget()
    {
        var (engine, model) = await BudgetTestSupport.StartAsync(s =>
        {
            s["Steward:ResponseCache:Enabled"] = "true";
            BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: 1_000_000);
            // Price the fake model so the first answer has a real cost to compare with.
            s["Steward:Pricing:Models:fake-model:Input"] = "2.5";
            s["Steward:Pricing:Models:fake-model:Output"] = "10";
        });
        await using var _ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);

        var first = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);
        var second = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal((RunStatus.Completed, false), (first.Status, first.FromCache));
        Assert.True(first.Cost.Usd > 0);
        Assert.Equal((RunStatus.Completed, true), (second.Status, second.FromCache));
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(RunUsage.Zero, second.Usage);
        Assert.Equal(0m, second.Cost.Usd);
        Assert.Equal(1, model.Calls);
        Assert.Equal(perRun, (await BudgetTestSupport.CounterAsync(engine, "global")).SpentTokens);
        var stored = await engine.Sessions.GetAsync(second.SessionId!.Value, TestContext.Current.CancellationToken);
        Assert.Equal((RunUsage.Zero, 0m), (stored.Runs[0].Usage, stored.Runs[0].CostUsd));
    }
}
