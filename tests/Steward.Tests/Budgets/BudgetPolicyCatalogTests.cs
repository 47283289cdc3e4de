using Microsoft.Extensions.Time.Testing;
using Steward.Agents;
using Steward.Budgets;

namespace Steward.Tests.Budgets;

/// <summary>The policies a call is checked against are kept between calls; a change must still reach the next call.</summary>
public sealed class BudgetPolicyCatalogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ForCallAsync_PolicySetThenRemovedHere_AppliesToTheNextCallOnly()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var _ = engine;
        var catalog = engine.Get<BudgetPolicyCatalog>();
        var preset = engine.Get<PresetCatalog>().Get("assistant");
        Assert.DoesNotContain(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "team");

        await catalog.SetAsync(new BudgetPolicy { Id = "team", Scope = BudgetScope.Global, MaxTokens = 1000 }, Ct);
        Assert.Contains(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "team" && p.MaxTokens == 1000);

        await catalog.SetAsync(new BudgetPolicy { Id = "team", Scope = BudgetScope.Global, MaxTokens = 2000 }, Ct);
        Assert.Contains(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "team" && p.MaxTokens == 2000);

        Assert.True(await catalog.RemoveAsync("team", Ct));
        Assert.DoesNotContain(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "team");
    }

    [Fact]
    public async Task ForCallAsync_PolicySetByAnotherProcess_AppliesOnceTheStoredPoliciesAreReadAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (first, _) = await BudgetTestSupport.StartAsync(time: time);
        await using var _ = first;
        var (second, _) = await BudgetTestSupport.StartAsync(folder: first.Folder);
        await using var __ = second;
        var catalog = first.Get<BudgetPolicyCatalog>();
        var preset = first.Get<PresetCatalog>().Get("assistant");
        Assert.DoesNotContain(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "elsewhere");

        await second.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "elsewhere", Scope = BudgetScope.Global, MaxTokens = 500 }, Ct);
        time.Advance(TimeSpan.FromSeconds(3));

        Assert.Contains(await catalog.ForCallAsync(preset, judge: false, Ct), p => p.Id == "elsewhere");
    }

    [Fact]
    public async Task ForCallAsync_PresetWithADifferentBudget_GetsItsOwnPolicies()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync();
        await using var _ = engine;
        var catalog = engine.Get<BudgetPolicyCatalog>();
        var preset = engine.Get<PresetCatalog>().Get("assistant");
        var before = await catalog.ForCallAsync(preset, judge: false, Ct);

        // The same preset name, edited to declare a daily budget: its calls are held to it at once.
        var edited = preset with { Budget = preset.Budget with { DailyCostUsd = 5m } };
        var after = await catalog.ForCallAsync(edited, judge: false, Ct);

        Assert.DoesNotContain(before, p => p.Id == "preset:assistant:daily");
        Assert.Contains(after, p => p.Id == "preset:assistant:daily" && p.MaxUsd == 5m);
    }
}
