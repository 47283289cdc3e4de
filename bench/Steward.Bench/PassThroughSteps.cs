using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Providers;

namespace Steward.Bench;

/// <summary>The baseline: the runner's budget and cost seams doing nothing, so only those steps differ between the two runs.</summary>
internal sealed class PassThroughSteps : IBudgetGate, IBudgetReservation, IRunPricer
{
    public string Decision => "No budget.";

    public ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken) => ValueTask.FromResult<IBudgetReservation>(this);

    public ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken) => ValueTask.FromResult<IReadOnlyList<BudgetAlert>>([]);

    public ValueTask CommitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask ReleaseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public RunCost Price(PricingRequest request) => RunCost.Unpriced;

    public RunCost PriceWorstCase(ResolvedProvider provider, long inputTokens, long maxOutputTokens) => RunCost.Unpriced;
}
