using Steward.Agents;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

/// <summary>The hosts' view of stored sessions, through the real engine and its SQLite file.</summary>
public sealed class StoredSessionsTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private StoredSessions Sessions => Engine.Get<StoredSessions>();

    [Fact]
    public async Task CountByPresetAsync_SessionsOfTwoPresets_CountsEachPreset()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "writer.yaml"), TestEngine.Preset("writer"), Ct);
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "One" }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Two", SessionId = first.SessionId }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Three" }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "writer", Query = "Four" }, cancellationToken: Ct);

        var counts = await Sessions.CountByPresetAsync(Ct);

        Assert.Equal(2, counts["assistant"]);
        Assert.Equal(1, counts["writer"]);
        Assert.Equal(2, counts.Count);
    }

    [Fact]
    public async Task FindSessionOfRunAsync_StoredAndUnknownRun_ReturnsSessionOrNull()
    {
        var run = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(run.SessionId, await Sessions.FindSessionOfRunAsync(run.RunId, Ct));
        Assert.Null(await Sessions.FindSessionOfRunAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task ExportAsync_ThenDeleteAndImport_RestoresTheSession()
    {
        var id = await SessionTestData.ConversationAsync(Engine, Server);
        var before = await Sessions.GetAsync(id, Ct);
        using var export = new MemoryStream();
        await Sessions.ExportAsync(id, export, Ct);

        await Sessions.DeleteAsync(id, Ct);
        await Assert.ThrowsAsync<SessionNotFoundException>(() => Sessions.GetAsync(id, Ct));
        export.Position = 0;
        var imported = await Sessions.ImportAsync(export, asCopy: false, Ct);

        Assert.Equal(id, imported);
        var after = await Sessions.GetAsync(id, Ct);
        Assert.Equal(before.Messages.Select(m => m.Content), after.Messages.Select(m => m.Content));
        Assert.Equal(before.Runs.Select(r => r.Id), after.Runs.Select(r => r.Id));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task DeleteAsync_SessionUnderASessionBudget_RemovesItsCounterFromTheLedger(string storage)
    {
        await using var engine = await Budgets.BudgetTestSupport.StartWithSessionBudgetAsync(storage);
        var deleted = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "One" }, cancellationToken: Ct);
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Two", SessionId = deleted.SessionId }, cancellationToken: Ct);
        var kept = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Three" }, cancellationToken: Ct);
        // A later turn gives a session its counter in the ledger (a first turn's spend is read from its stored run).
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Four", SessionId = kept.SessionId }, cancellationToken: Ct);
        var deletedId = Assert.NotNull(deleted.SessionId);
        var keptId = Assert.NotNull(kept.SessionId);

        await engine.Get<StoredSessions>().DeleteAsync(deletedId, Ct);
        await engine.Get<Steward.Budgets.BudgetEscrow>().FlushAsync(returnUnused: true, Ct);

        Assert.Equal(0, await Budgets.BudgetTestSupport.CounterRowsAsync(engine, Steward.Budgets.BudgetPolicyCatalog.SessionScopeKey(deletedId)));
        Assert.Equal(1, await Budgets.BudgetTestSupport.CounterRowsAsync(engine, Steward.Budgets.BudgetPolicyCatalog.SessionScopeKey(keptId)));
    }

    [Fact]
    public async Task DeleteAsync_WhileTheBudgetLedgerIsStopping_StillDeletesTheSession()
    {
        await using var engine = await Budgets.BudgetTestSupport.StartWithSessionBudgetAsync();
        var run = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "One" }, cancellationToken: Ct);
        var sessionId = Assert.NotNull(run.SessionId);
        // Shutdown stops the budget escrow before a request that is deleting a session has finished.
        await engine.Get<Steward.Budgets.BudgetEscrow>().DisposeAsync();

        await engine.Get<StoredSessions>().DeleteAsync(sessionId, Ct);

        await Assert.ThrowsAsync<SessionNotFoundException>(() => engine.Get<StoredSessions>().GetAsync(sessionId, Ct));
    }
}
