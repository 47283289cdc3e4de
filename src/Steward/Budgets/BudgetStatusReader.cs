using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>One budget in its current period: the limit, what is spent, what running requests hold.</summary>
/// <param name="Policy">The policy (its webhook without the credentials its address may carry).</param>
/// <param name="Scope">The scope, described for people (<c>agent market_analyst</c>, <c>global</c>…).</param>
/// <param name="Period">The current period's key (<c>2026-11-30</c>, <c>2026-11</c>, <c>all</c>).</param>
/// <param name="SpentTokens">Tokens spent in the period.</param>
/// <param name="SpentUsd">USD spent in the period.</param>
/// <param name="ReservedTokens">Tokens held by requests in flight.</param>
/// <param name="ReservedUsd">USD held by requests in flight.</param>
/// <param name="UtilisationPercent">Spent against the limit (tokens first), or <see langword="null"/> for per-session budgets.</param>
/// <param name="PerSession">A budget with one counter per session: only its limit is shown.</param>
public sealed record BudgetStatus(
    BudgetPolicy Policy, string Scope, string Period, long SpentTokens, decimal SpentUsd, long ReservedTokens, decimal ReservedUsd, double? UtilisationPercent,
    bool PerSession);

/// <summary>
/// Every budget's counter for the current period (spent and reserved), read from the ledger: the one budget status the
/// CLI (<c>steward budgets list</c>) and the web UI (Analytics) show. Per-session budgets have one counter per session,
/// so they show the limit only. Thread-safe.
/// </summary>
public sealed class BudgetStatusReader
{
    private readonly BudgetPolicyCatalog _policies;
    private readonly BudgetLedger _ledger;
    private readonly PresetCatalog _presets;
    private readonly TimeZoneInfo _zone;
    private readonly TimeProvider _time;

    internal BudgetStatusReader(BudgetPolicyCatalog policies, BudgetLedger ledger, PresetCatalog presets, IOptions<BudgetOptions> options, TimeProvider time)
    {
        _policies = policies;
        _ledger = ledger;
        _presets = presets;
        _zone = BudgetPeriods.FindZone(options.Value.TimeZone);
        _time = time;
    }

    /// <summary>The status of every budget (configured, preset and set from the CLI), in catalog order.</summary>
    public async Task<IReadOnlyList<BudgetStatus>> ReadAsync(CancellationToken cancellationToken)
    {
        var all = await _policies.ListAsync(_presets.List(), cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var keyed = all.Select(p => (Policy: p with { Webhook = Net.UrlRedaction.Strip(p.Webhook) }, Period: BudgetPeriods.Key(p.Period, now, _zone),
            Key: BudgetPolicyCatalog.SingleCounterKey(p))).ToArray();
        var keys = keyed.Where(k => k.Key is not null).Select(k => (k.Key!, k.Period)).Distinct().ToArray();
        var counters = keys.Length == 0 ? [] : await _ledger.ReadAsync(keys, cancellationToken).ConfigureAwait(false);
        var byKey = counters.ToDictionary(c => (c.ScopeKey, c.PeriodStart));
        return keyed.Select(k =>
        {
            var scope = BudgetPolicyCatalog.DescribeScope(k.Policy, k.Policy.Agent ?? "");
            if (k.Key is null || !byKey.TryGetValue((k.Key, k.Period), out var c))
            {
                return new BudgetStatus(k.Policy, scope, k.Period, 0, 0, 0, 0, k.Key is null ? null : 0, k.Key is null);
            }

            var spentUsd = NanoUsd.ToUsd(c.SpentNanoUsd);
            double? utilisation = k.Policy.MaxTokens is { } t ? 100.0 * c.SpentTokens / t : k.Policy.MaxUsd is { } u && u > 0 ? (double)(100m * spentUsd / u) : null;
            return new BudgetStatus(k.Policy, scope, k.Period, c.SpentTokens, spentUsd, c.ReservedTokens, NanoUsd.ToUsd(c.ReservedNanoUsd), utilisation, false);
        }).ToArray();
    }
}
