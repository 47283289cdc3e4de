using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
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
    public async Task FlushAsync_NewSessionsFinishedRun_WritesItsSpendWithNoHoldLeftBehind()
    {
        await using var engine = await BudgetTestSupport.StartWithSessionBudgetAsync();
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        var session = Guid.NewGuid();
        var reservation = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, session, newSession: true), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(perRun - 30, 0, 10, 0));

        // An ordinary flush, not one that returns every unused hold: a session's goes back as soon as no run holds it.
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        var key = "session:" + session.ToString("N");
        var counter = (await engine.Get<BudgetLedger>().ReadAsync([(key, "all")], Ct))[0];
        Assert.Equal((perRun - 20, 0L), (counter.SpentTokens, counter.ReservedTokens));
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task FlushAsync_ManyNewSessionsFinished_AddsEachSessionsOwnSpendToItsCounter(string storage)
    {
        await using var engine = await BudgetTestSupport.StartWithSessionBudgetAsync(storage);
        var gate = engine.Get<IBudgetGate>();
        var escrow = engine.Get<BudgetEscrow>();
        // 100 sessions, more than one statement's rows (64 + 32 + 4), each settling a different amount; the first also has
        // spend in the database already (an earlier turn), which the flush adds to rather than replaces.
        var sessions = Enumerable.Range(0, 100).Select(_ => Guid.NewGuid()).ToArray();
        var earlier = await gate.ReserveAsync(Request(engine, sessions[0], newSession: true), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(earlier, new RunUsage(1000, 0, 0, 0));
        await escrow.FlushAsync(returnUnused: false, Ct);
        for (var i = 0; i < sessions.Length; i++)
        {
            var reservation = await gate.ReserveAsync(Request(engine, sessions[i], newSession: true), Ct);
            await BudgetTestSupport.SettleAndCommitAsync(reservation, new RunUsage(i + 1, 0, 1, 0));
        }

        await escrow.FlushAsync(returnUnused: false, Ct);

        var counters = await engine.Get<BudgetLedger>().ReadAsync([.. sessions.Select(s => ("session:" + s.ToString("N"), "all"))], Ct);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (i + 2L + (i == 0 ? 1000 : 0), 0L)), counters.Select(c => (c.SpentTokens, c.ReservedTokens)));
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
        Assert.Equal((0L, 0L), escrow.HeldByRuns);
    }

    [Fact]
    public async Task ReserveAsync_LaterTurnOfAStoredSession_HoldsExactlyItsWorstCaseWithNoHeadroom()
    {
        await using var engine = await BudgetTestSupport.StartWithSessionBudgetAsync();
        var perRun = BudgetTestSupport.WorstCaseTokens(engine);
        var session = Guid.NewGuid();
        var first = await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, session, newSession: true), Ct);
        await BudgetTestSupport.SettleAndCommitAsync(first, new RunUsage(perRun - BudgetTestSupport.MaxOutput, 0, BudgetTestSupport.MaxOutput, 0));
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        await engine.Get<IBudgetGate>().ReserveAsync(Request(engine, session), Ct);

        var counter = (await engine.Get<BudgetLedger>().ReadAsync([("session:" + session.ToString("N"), "all")], Ct))[0];
        Assert.Equal((perRun, perRun), (counter.SpentTokens, counter.ReservedTokens));
    }

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
