using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Budgets;
using Steward.Storage;

namespace Steward.Web.Analytics;

/// <summary>One budget in its current period: the limit, what is spent, what running requests hold.</summary>
/// <param name="Policy">The budget as configured.</param>
/// <param name="Name">What people call it: the agent's display name for a preset's budget, else the name it was set under.</param>
/// <param name="Applies">What it covers, in words ("each request to Tech Advisor", "all agents").</param>
/// <param name="Period">The current period's key.</param>
/// <param name="SpentTokens">Tokens spent this period.</param>
/// <param name="SpentUsd">USD spent this period.</param>
/// <param name="ReservedTokens">Tokens held by running requests.</param>
/// <param name="ReservedUsd">USD held by running requests.</param>
/// <param name="UtilisationPercent">Spent against the limit; none without a single counter.</param>
/// <param name="PerSession">No single counter: each request (or session) is held to the limit on its own.</param>
internal sealed record BudgetGauge(
    BudgetPolicy Policy, string Name, string Applies, string Period, long SpentTokens, decimal SpentUsd, long ReservedTokens, decimal ReservedUsd,
    double? UtilisationPercent, bool PerSession)
{
    /// <summary>What the Spent column says of a budget with no single counter.</summary>
    public string NotAccumulated => Policy.Scope == BudgetScope.Request ? "checked per request" : "counted per session";
}

/// <summary>
/// Reads every budget's counter for the current period from the ledger (spent and reserved), as the
/// <c>steward budgets list</c> command does. Per-session budgets have one counter per session, so they show the limit only.
/// </summary>
internal sealed class BudgetMonitor(BudgetPolicyCatalog policies, BudgetLedger ledger, PresetCatalog presets, IOptions<BudgetOptions> options, TimeProvider time)
{
    public async Task<IReadOnlyList<BudgetGauge>> ReadAsync(CancellationToken cancellationToken)
    {
        var all = await policies.ListAsync(presets.List(), cancellationToken).ConfigureAwait(false);
        var zone = BudgetPeriods.FindZone(options.Value.TimeZone);
        var now = time.GetUtcNow();
        var keyed = all.Select(p => (Policy: p, Period: BudgetPeriods.Key(p.Period, now, zone), Key: BudgetPolicyCatalog.SingleCounterKey(p))).ToArray();
        var keys = keyed.Where(k => k.Key is not null).Select(k => (k.Key!, k.Period)).Distinct().ToArray();
        var counters = keys.Length == 0 ? [] : await ledger.ReadAsync(keys, cancellationToken).ConfigureAwait(false);
        var byKey = counters.ToDictionary(c => (c.ScopeKey, c.PeriodStart));
        return keyed.Select(k =>
        {
            var (name, applies) = Describe(k.Policy);
            if (k.Key is null || !byKey.TryGetValue((k.Key, k.Period), out var c))
            {
                return new BudgetGauge(k.Policy, name, applies, k.Period, 0, 0, 0, 0, k.Key is null ? null : 0, k.Key is null);
            }

            var spentUsd = NanoUsd.ToUsd(c.SpentNanoUsd);
            double? utilisation = k.Policy.MaxTokens is { } t ? 100.0 * c.SpentTokens / t : k.Policy.MaxUsd is { } u && u > 0 ? (double)(100m * spentUsd / u) : null;
            return new BudgetGauge(k.Policy, name, applies, k.Period, c.SpentTokens, spentUsd, c.ReservedTokens, NanoUsd.ToUsd(c.ReservedNanoUsd), utilisation, false);
        }).ToArray();
    }

    // A preset's budget is stored as "preset:tech_advisor:request": an internal key, not a name anyone gave it.
    private (string Name, string Applies) Describe(BudgetPolicy policy)
    {
        var agent = policy.Agent is { } a ? presets.List().FirstOrDefault(p => p.Name == a)?.DisplayName ?? a : null;
        var name = policy.Source == "preset" && agent is not null ? agent : policy.Id;
        var applies = policy.Scope switch
        {
            BudgetScope.Request => agent is null ? "each request" : $"each request to {agent}",
            BudgetScope.Session => agent is null ? "each session" : $"each session with {agent}",
            BudgetScope.Agent => agent is null ? "one agent" : $"all of {agent}'s runs",
            BudgetScope.Judge => "LLM judges",
            _ => "all agents",
        };
        return (name, applies);
    }
}
