using Steward.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

/// <summary>Budgets as the hosts change them, through the real engine and its SQLite file.</summary>
public sealed class BudgetAdministrationTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BudgetAdministration Budgets => Engine.Get<BudgetAdministration>();

    [Fact]
    public void AlertLogCategory_IsTheNotifiersCategory()
    {
        // A host filters the notifier's lines by this name; a rename of the class must not silently undo the filter.
        Assert.Equal(BudgetAdministration.AlertLogCategory, typeof(BudgetAlertNotifier).FullName);
    }

    [Fact]
    public async Task SetAsync_ThenRemoveAsync_BudgetAppearsAndGoes()
    {
        await Budgets.SetAsync(new BudgetPolicy { Id = "team-daily", Scope = BudgetScope.Global, Period = BudgetPeriod.Daily, MaxTokens = 1000 }, Ct);

        Assert.Contains(await Engine.Get<BudgetStatusReader>().ReadAsync(Ct), s => s.Policy.Id == "team-daily");
        Assert.True(await Budgets.RemoveAsync("team-daily", Ct));
        Assert.DoesNotContain(await Engine.Get<BudgetStatusReader>().ReadAsync(Ct), s => s.Policy.Id == "team-daily");
        Assert.False(await Budgets.RemoveAsync("team-daily", Ct));
    }

    [Fact]
    public async Task ResetAsync_SpentGlobalBudget_StartsItsPeriodFromZero()
    {
        await Budgets.SetAsync(new BudgetPolicy { Id = "team-daily", Scope = BudgetScope.Global, Period = BudgetPeriod.Daily, MaxTokens = 100_000 }, Ct);
        await Engine.Runner.RunAsync(new Steward.Agents.RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);
        // Spend is written behind; the status reads the ledger.
        await Engine.Get<BudgetEscrow>().FlushAsync(returnUnused: true, Ct);
        var spent = await StatusAsync();
        Assert.True(spent.SpentTokens > 0);

        var reset = await Budgets.ResetAsync("team-daily", Ct);

        Assert.Equal(spent.Period, reset.Period);
        Assert.Equal(0, (await StatusAsync()).SpentTokens);
    }

    [Fact]
    public async Task ResetAsync_UnknownOrPerSessionBudget_ThrowsNamingIt()
    {
        await Budgets.SetAsync(new BudgetPolicy { Id = "per-chat", Scope = BudgetScope.Session, MaxTokens = 1000 }, Ct);

        Assert.Contains("'nothing'", (await Assert.ThrowsAsync<ArgumentException>(() => Budgets.ResetAsync("nothing", Ct))).Message, StringComparison.Ordinal);
        Assert.Contains("no single counter", (await Assert.ThrowsAsync<ArgumentException>(() => Budgets.ResetAsync("per-chat", Ct))).Message, StringComparison.Ordinal);
        Assert.False(BudgetAdministration.HasSingleCounter(new BudgetPolicy { Id = "x", Scope = BudgetScope.Session, MaxTokens = 1 }));
        Assert.True(BudgetAdministration.HasSingleCounter(new BudgetPolicy { Id = "x", Scope = BudgetScope.Global, MaxTokens = 1 }));
    }

    private async Task<BudgetStatus> StatusAsync() => (await Engine.Get<BudgetStatusReader>().ReadAsync(Ct)).Single(s => s.Policy.Id == "team-daily");
}
