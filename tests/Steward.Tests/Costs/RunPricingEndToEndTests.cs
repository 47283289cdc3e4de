using Steward.Agents;
using Steward.Costs;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Costs;

/// <summary>A real run through the engine is priced from the catalog, stored, and shows up in the cost report.</summary>
public sealed class RunPricingEndToEndTests : EngineTest
{
    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Steward:Pricing:Aliases:fake-model"] = "o4-mini";

    [Fact]
    public async Task RunAsync_AliasedModel_PricedStoredAndReported()
    {
        // The fake server reports 12 input (4 cached) and 7 output (2 reasoning) tokens; o4-mini: 1.10 / 0.275 / 4.40.
        // (12 − 4) × 1.10 + 4 × 0.275 + (7 − 2) × 4.40 + 2 × 4.40 = 8.8 + 1.1 + 22 + 8.8 = 40.7 → / 1M = $0.0000407
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Say hello" },
            cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal(new RunCost(0.0000407m), response.Cost);

        var totals = await Engine.Get<CostReports>().GetTotalsAsync(new CostFilter { Agent = "assistant" }, TestContext.Current.CancellationToken);
        Assert.Equal((1L, 1L, 0L, 0.0000407m), (totals.Runs, totals.PricedRuns, totals.UnpricedRuns, totals.CostUsd));
        Assert.Equal(new TokenBreakdown(8, 4, 5, 2), totals.Tokens);
    }
}
