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
    bool PerSession)
{
    /// <summary>What people call it: the agent's display name for a preset's budget, else the name it was set under.</summary>
    public string Name { get; init; } = Policy.Id;

    /// <summary>What it covers, in words ("each request to Tech Advisor", "all agents").</summary>
    public string Applies { get; init; } = "";

    /// <summary>What the Spent column says of a budget with no single counter.</summary>
    public string NotAccumulated => Policy.Scope == BudgetScope.Request ? "checked per request" : "counted per session";
}

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
            var (name, applies) = Describe(k.Policy);
            if (k.Key is null || !byKey.TryGetValue((k.Key, k.Period), out var c))
            {
                return new BudgetStatus(k.Policy, scope, k.Period, 0, 0, 0, 0, k.Key is null ? null : 0, k.Key is null) { Name = name, Applies = applies };
            }

            var spentUsd = NanoUsd.ToUsd(c.SpentNanoUsd);
            double? utilisation = k.Policy.MaxTokens is { } t ? 100.0 * c.SpentTokens / t : k.Policy.MaxUsd is { } u && u > 0 ? (double)(100m * spentUsd / u) : null;
            // A percentage to a tenth: 38.266666666666666 is noise, in a table or in JSON.
            utilisation = utilisation is { } raw ? Math.Round(raw, 1) : null;
            return new BudgetStatus(k.Policy, scope, k.Period, c.SpentTokens, spentUsd, c.ReservedTokens, NanoUsd.ToUsd(c.ReservedNanoUsd), utilisation, false)
            {
                Name = name,
                Applies = applies,
            };
        }).ToArray();
    }

    // A preset's budget is stored as "preset:tech_advisor:request": an internal key, not a name anyone gave it.
    private (string Name, string Applies) Describe(BudgetPolicy policy)
    {
        var agent = policy.Agent is { } a ? _presets.List().FirstOrDefault(p => p.Name == a)?.DisplayName ?? a : null;
        var name = policy.Source == "preset" && agent is not null ? agent : policy.Id;
        var applies = policy.Scope switch
        {
            BudgetScope.Request => agent is null ? "each request" : $"each request to {agent}",
            BudgetScope.Session => agent is null ? "each session" : $"each session with {agent}",
            BudgetScope.Agent => agent is null ? "one agent" : $"all of {agent}'s runs",
            BudgetScope.Judge => "LLM judges",
            BudgetScope.ApiKey => "one gateway key",
            _ => "all agents",
        };
        return (name, applies);
    }
}
