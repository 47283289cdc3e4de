using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Steward.Agents;
using Steward.Budgets;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

public sealed class BudgetEscrowTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BudgetRequest Request(TestEngine engine, Guid sessionId, bool newSession = false) => BudgetTestSupport.CallRequest(engine, sessionId, newSession);

    [Fact]
    public async Task ReserveAsync_BurstOf200RunsOnAColdCounter_WaitsForAtMostTwoGrowths()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: 100_000_000));
        await using var _ = engine;
        var gate = engine.Get<IBudgetGate>();
        var escrow = engine.Get<BudgetEscrow>();

        // The burst queues behind the first growth (held up here by another writer on the ledger's file, as another
        // process would); the next one is sized for everything queued behind it, instead of 32 runs at a time (which
        // took six or seven growths for 200 runs).
        var otherWriter = new SqliteConnection($"Data Source={Path.Combine(engine.Folder, "steward-budgets.db")}");
        await using (otherWriter)
        {
            await otherWriter.OpenAsync(Ct);
            var transaction = otherWriter.BeginTransaction(deferred: false);
            var burst = Enumerable.Range(0, 200).Select(_ => gate.ReserveAsync(Request(engine, Guid.NewGuid()), Ct).AsTask()).ToArray();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (escrow.GrowthWaiters < 199 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10, Ct);
            }

            Assert.Equal(199, escrow.GrowthWaiters); // the first is growing, blocked by the other writer
            transaction.Commit();
            var reservations = await Task.WhenAll(burst);
            Assert.Equal(200, reservations.Length);
        }

        Assert.InRange(escrow.GrowthsWaitedFor, 1, 2);
    }

    [Fact]
    public async Task ReserveAsync_SteadyLoad_GrowsTheHoldByTheCountersRateNotEvery32Runs()
    {
        var (engine, time) = await StartWithGlobalBudgetAsync();
        await using var _ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);

        // A thousand runs a second for two seconds, one after another.
        long mostHeld = 0;
        for (var i = 0; i < 2000; i++)
        {
            await SpendOneCallAsync(engine, perRun);
            time.Advance(TimeSpan.FromMilliseconds(1));
            if (i % 100 == 99)
            {
                mostHeld = Math.Max(mostHeld, await GlobalHoldAsync(engine));
            }
        }

        // A quarter second of runs a growth (250) once the rate is known, where 32 runs a growth took 63 ledger transactions.
        Assert.InRange(engine.Get<BudgetEscrow>().Growths, 2, 16);
        // Never more than the 256 runs a crashed process may strand (and the 32-run floor of a refill that found more left).
        Assert.InRange(mostHeld, 1, (256 + 32) * perRun);
    }

    [Fact]
    public async Task ReserveAsync_OccasionalRuns_KeepTheSmallestHeadroom()
    {
        var (engine, time) = await StartWithGlobalBudgetAsync();
        await using var _ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);

        // One run every 100 ms: 2.5 runs a quarter second, so the rate asks for less than the 32-run floor.
        for (var i = 0; i < 50; i++)
        {
            await SpendOneCallAsync(engine, perRun);
            // A refill's 32 runs of headroom at most, taken when fewer than half of the previous 32 were left (a
            // rate-sized refill would take 250).
            Assert.InRange(await GlobalHoldAsync(engine), 0, (32 + 16) * perRun);
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
    }

    private static async Task<(TestEngine Engine, FakeTimeProvider Time)> StartWithGlobalBudgetAsync()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
        var (engine, _) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: 100_000_000), time);
        return (engine, time);
    }

    /// <summary>One call of a new session that uses its whole worst case, reserved, settled and committed.</summary>
    private static async Task SpendOneCallAsync(TestEngine engine, long perRun)
    {
        var reservation = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, Guid.NewGuid()), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));
    }

    /// <summary>What this process's escrow holds on the global counter beyond spend it has not written yet.</summary>
    private static async Task<long> GlobalHoldAsync(TestEngine engine)
    {
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);
        return (await engine.Get<BudgetLedger>().ReadAsync([("global", "all")], Ct))[0].ReservedTokens;
    }

    [Fact]
    public async Task ReserveAsync_TwoSessionBudgetsOfDifferentPeriods_HoldsTheCallOnBothOfItsSessionsCounters()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
        var (engine, _) = await BudgetTestSupport.StartAsync(s =>
        {
            BudgetTestSupport.Policy(s, 0, "session-total", "Session", "None", tokens: 1_000_000);
            BudgetTestSupport.Policy(s, 1, "session-daily", "Session", "Daily", tokens: 1_000_000);
        }, time);
        await using var _ = engine;
        var escrow = engine.Get<BudgetEscrow>();
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());

        // Two sessions' calls in flight at once: each holds on its own session's two counters, and on no one else's.
        var reservations = new[]
        {
            await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, first), Ct),
            await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, second), Ct),
        };
        foreach (var session in new[] { first, second })
        {
            var key = BudgetPolicyCatalog.SessionScopeKey(session);
            Assert.Equal(perRun, escrow.View(key, "all")?.Held.Tokens);
            Assert.Equal(perRun, escrow.View(key, "2026-12-06")?.Held.Tokens);
        }

        Assert.Equal((4 * perRun, 0L), escrow.HeldByRuns);
        foreach (var reservation in reservations)
        {
            await reservation.ReleaseAsync(Ct);
        }

        Assert.Equal((0L, 0L), escrow.HeldByRuns);
    }

    [Fact]
    public async Task CommitAsync_NewSessionsCall_DropsTheSessionsLocalCounterBeforeAnyFlush()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
        var (engine, _) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "session", "Session", "None", tokens: 1_000_000), time);
        await using var _ = engine;
        var escrow = engine.Get<BudgetEscrow>();
        var sessionId = Guid.NewGuid();
        var key = BudgetPolicyCatalog.SessionScopeKey(sessionId);
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);

        var reservation = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, sessionId, newSession: true), Ct);
        Assert.NotNull(escrow.View(key, "all"));
        await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));

        // No flush has run (the clock has not moved): the counter held only this call's local hold, and is gone with it.
        Assert.Null(escrow.View(key, "all"));
        Assert.Equal((0L, 0L), escrow.HeldByRuns);
        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(engine, key));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task FlushAsync_NewSessionsFinishedRun_LeavesNoHoldBehind(string storage)
    {
        // The clock stands still, so the flush loop cannot write the run's local hold while it runs (on a slow machine a
        // run outlasted the flush interval, and its session's counter was written, rightly, before the run was done).
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var engine = await BudgetTestSupport.StartWithSessionBudgetAsync(storage, time);
        var run = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        // An ordinary flush, not one that returns every unused hold: a session's goes back as soon as no run holds it.
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
        Assert.Equal((0L, 0L), engine.Get<BudgetEscrow>().HeldByRuns);
        // The session's spend is read from its stored run: the ledger gets no row for it (one write less per run) until a
        // later turn holds on its counter.
        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(engine, BudgetPolicyCatalog.SessionScopeKey(run.SessionId!.Value)));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ReserveAsync_LaterTurnOfAStoredSession_CountsTheStoredTurnExactly(string storage)
    {
        var (engine, first) = await StartWithStoredTurnAsync(storage);
        await using var __ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        await AssertTheNextTurnCountsTheFirstOnceAsync(engine, first, perRun);

        Assert.Equal(perRun, (await engine.Get<BudgetLedger>().ReadAsync([(BudgetPolicyCatalog.SessionScopeKey(first.SessionId!.Value), "all")], Ct))[0].ReservedTokens);
    }

    [Fact]
    public async Task ReserveAsync_LaterTurnBeforeTheFirstTurnsSpendIsWritten_CountsTheFirstTurnOnce()
    {
        // The flush loop waits long after a settle, so the next turn (or the judge, right after delivery) comes while this
        // process still holds the first turn's hold and has its spend to write.
        var (engine, first) = await StartWithStoredTurnAsync(configure: s => s["Steward:Budgets:EscrowFlushInterval"] = "00:00:20");
        await using var __ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);

        await AssertTheNextTurnCountsTheFirstOnceAsync(engine, first, perRun);
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ReserveAsync_SessionCounterWithSpendFromAnEarlierVersion_CountsTheStoredTurnOnce(string storage)
    {
        var (engine, first) = await StartWithStoredTurnAsync(storage);
        await using var __ = engine;
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);
        // An earlier version wrote a session's spend on its counter in the ledger too.
        await BudgetTestSupport.InsertCounterAsync(engine, BudgetPolicyCatalog.SessionScopeKey(first.SessionId!.Value), first.Usage.TotalTokens);

        await AssertTheNextTurnCountsTheFirstOnceAsync(engine, first, perRun);
    }

    /// <summary>An engine whose test preset has a per-session cap, and the first turn of a session run and stored.</summary>
    private static async Task<(TestEngine Engine, AgentResponse First)> StartWithStoredTurnAsync(
        string storage = "sqlite", Action<Dictionary<string, string?>>? configure = null)
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(configure, database: await TestPostgres.DatabaseForAsync(storage));
        await SessionCapAsync(engine, 1_000_000);
        return (engine, await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello there" }, cancellationToken: Ct));
    }

    /// <summary>
    /// A cap one token short of the next turn's worst case refuses it, naming exactly the first turn's spend (neither none of
    /// it nor twice); with that token the next turn is held.
    /// </summary>
    private static async Task AssertTheNextTurnCountsTheFirstOnceAsync(TestEngine engine, AgentResponse first, long perRun)
    {
        var spent = first.Usage.TotalTokens;
        await SessionCapAsync(engine, spent + perRun - 1);
        var refused = await Assert.ThrowsAsync<BudgetExceededException>(() => engine.Get<IBudgetGate>().ReserveAsync(Request(engine, first.SessionId!.Value), Ct).AsTask());
        Assert.Contains($"spent {spent}, reserved 0", refused.Message, StringComparison.Ordinal);

        await SessionCapAsync(engine, spent + perRun);
        await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, first.SessionId!.Value), Ct);
    }

    /// <summary>Gives the test preset a per-session token cap.</summary>
    private static Task SessionCapAsync(TestEngine engine, long tokens) =>
        File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "assistant.yaml"), TestEngine.Preset("assistant", $"budget:\n  max_tokens_per_session: {tokens}"), Ct);

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task ForgetSessionAsync_WhileARunHoldsOnIt_KeepsTheCounterUntilTheRunsSpendIsWrittenThenDeletesIt(string storage)
    {
        await using var engine = await BudgetTestSupport.StartWithSessionBudgetAsync(storage);
        var escrow = engine.Get<BudgetEscrow>();
        var session = Guid.NewGuid();
        var key = BudgetPolicyCatalog.SessionScopeKey(session);
        var earlier = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, session, newSession: true), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(earlier, new RunUsage(100, 0, 10, 0));
        await escrow.FlushAsync(returnUnused: false, Ct);
        var running = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, session), Ct);

        Assert.False(await escrow.ForgetSessionAsync(session, Ct));
        Assert.Equal(1, await BudgetTestSupport.CounterRowsAsync(engine, key));

        // The run finishes; nobody asks again: the escrow's own flush loop writes its spend, then deletes the counter.
        await BudgetTestSupport.SettleAndCommitAsync(running, new RunUsage(100, 0, 10, 0));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await BudgetTestSupport.CounterRowsAsync(engine, key) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }

        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(engine, key));
        Assert.Equal((0L, 0L), escrow.HeldByRuns);
        // Nothing this process still had to write on it brings it back.
        await escrow.FlushAsync(returnUnused: true, Ct);
        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(engine, key));
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
    }
}
