using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Budgets;
using Steward.Storage;

namespace Steward.Web.Analytics;

/// <summary>One budget in its current period: the limit, what is spent, what running requests hold.</summary>
internal sealed record BudgetGauge(
    BudgetPolicy Policy, string Scope, string Period, long SpentTokens, decimal SpentUsd, long ReservedTokens, decimal ReservedUsd, double? UtilisationPercent,
    bool PerSession);

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
            var scope = BudgetPolicyCatalog.DescribeScope(k.Policy, k.Policy.Agent ?? "");
            if (k.Key is null || !byKey.TryGetValue((k.Key, k.Period), out var c))
            {
                return new BudgetGauge(k.Policy, scope, k.Period, 0, 0, 0, 0, k.Key is null ? null : 0, k.Key is null);
            }

            var spentUsd = NanoUsd.ToUsd(c.SpentNanoUsd);
            double? utilisation = k.Policy.MaxTokens is { } t ? 100.0 * c.SpentTokens / t : k.Policy.MaxUsd is { } u && u > 0 ? (double)(100m * spentUsd / u) : null;
            return new BudgetGauge(k.Policy, scope, k.Period, c.SpentTokens, spentUsd, c.ReservedTokens, NanoUsd.ToUsd(c.ReservedNanoUsd), utilisation, false);
        }).ToArray();
    }
}
