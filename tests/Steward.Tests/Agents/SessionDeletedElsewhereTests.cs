using Steward.Agents;
using Steward.Budgets;
using Steward.Sessions;
using Steward.Tests.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Agents;

/// <summary>
/// A session deleted by another process (the web app's History while `steward ask` answers in it, say) while a run of
/// this one holds on its budget counter: the deleting process cannot remove a counter it does not hold, so the process
/// whose run finds its session gone removes it once its spend is written. Two engines on one store are the two processes.
/// </summary>
public sealed class SessionDeletedElsewhereTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(0)] // the run that made the session: its hold is this process's alone, not yet in the ledger
    [InlineData(1)] // a later turn: its hold is in the ledger, where the other process sees it and leaves the counter
    public async Task RunAsync_SessionDeletedByAnotherProcessWhileATurnHoldsItsCounter_LeavesNoCounterBehind(int earlierTurns)
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "capped.yaml"),
            TestEngine.Preset("capped", "budget:\n  max_tokens_per_session: 100000"), Ct);
        Server.Reply = _ => new FakeReply { Chunks = ["Cost ", "and ", "lock-in."], DelayBetweenChunks = TimeSpan.FromMilliseconds(50) };
        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl, folder: Engine.Folder);
        Guid? sessionId = null;
        for (var turn = 0; turn < earlierTurns; turn++)
        {
            sessionId = (await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "Risks?", SessionId = sessionId }, cancellationToken: Ct)).SessionId;
        }

        await Engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);
        var deleted = false;
        RunProgress? terminal = null;

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "And now?", SessionId = sessionId }, async p =>
        {
            terminal = p.Response is not null ? p : terminal;
            if (p.TextDelta is not null && !deleted)
            {
                deleted = true;
                sessionId ??= await other.Get<StoredSessions>().FindSessionOfRunAsync(p.RunId, Ct);
                await other.Get<StoredSessions>().DeleteAsync(sessionId!.Value, Ct);
            }
        }, Ct);

        Assert.True(deleted);
        Assert.Equal(RunStatus.Completed, response.Status);
        // Whoever asked is told, with the answer, that it is not kept.
        Assert.EndsWith("Not stored: its session was deleted while it was written.", terminal?.Message);
        // Gone by the time the run returns: the run's end forgets it, no background pass to wait for.
        var key = BudgetPolicyCatalog.SessionScopeKey(sessionId!.Value);
        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(Engine, key));
        // Nothing either process still had to write brings it back.
        await Engine.Get<BudgetEscrow>().FlushAsync(returnUnused: true, Ct);
        await other.Get<BudgetEscrow>().FlushAsync(returnUnused: true, Ct);
        Assert.Equal(0, await BudgetTestSupport.CounterRowsAsync(Engine, key));
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(Engine));
    }
}
