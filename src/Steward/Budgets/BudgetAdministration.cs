using System.Globalization;
using Steward.Agents;

namespace Steward.Budgets;

/// <summary>
/// Budgets as an operator changes them: set or removed (those set at run time, not those of configuration or presets),
/// and a budget's current period started again from zero spent. What budgets stand at is read with
/// <see cref="BudgetStatusReader"/>. Registered by <c>AddSteward</c>; thread-safe.
/// </summary>
public sealed class BudgetAdministration
{
    private readonly BudgetPolicyCatalog _policies;
    private readonly BudgetLedger _ledger;
    private readonly BudgetStatusReader _status;
    private readonly PresetCatalog _presets;

    internal BudgetAdministration(BudgetPolicyCatalog policies, BudgetLedger ledger, BudgetStatusReader status, PresetCatalog presets)
    {
        _policies = policies;
        _ledger = ledger;
        _status = status;
        _presets = presets;
    }

    /// <summary>The log category of budget alerts (webhook deliveries), for a host that filters their log lines.</summary>
    public const string AlertLogCategory = "Steward.Budgets.BudgetAlertNotifier";

    /// <summary>Adds a budget or replaces the one with the same id; every process sees it within a second.</summary>
    /// <exception cref="ArgumentException">The budget is invalid (every problem listed), names an agent no preset has, or its id belongs to a configured or preset budget.</exception>
    public Task SetAsync(BudgetPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Agent is { } agent)
        {
            try
            {
                _presets.Get(agent);
            }
            catch (PresetNotFoundException ex)
            {
                throw new ArgumentException(ex.Message, nameof(policy), ex);
            }
        }

        return _policies.SetAsync(policy with { Source = "cli" }, cancellationToken);
    }

    /// <summary>Reads alert thresholds as written by a person: whole percentages separated by commas ("50,80,100").</summary>
    /// <exception cref="ArgumentException">A part is not a whole number; the message names it.</exception>
    public static int[] ParseThresholds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"alert thresholds: '{t}' is not a whole percentage (e.g. 50,80,100)."))
            .ToArray();
    }

    /// <summary>Removes a budget set at run time.</summary>
    /// <returns><see langword="false"/> when no budget with this id was set at run time.</returns>
    public Task<bool> RemoveAsync(string budgetId, CancellationToken cancellationToken) => _policies.RemoveAsync(budgetId, cancellationToken);

    /// <summary>
    /// Whether the budget is one counter (global, agent or API key scope) rather than a limit checked per request or
    /// counted per session: only such a budget has one spent amount to show or reset.
    /// </summary>
    public static bool HasSingleCounter(BudgetPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return BudgetPolicyCatalog.SingleCounterKey(policy) is not null;
    }

    /// <summary>Starts the budget's current period again from zero spent (runs in flight keep their holds).</summary>
    /// <returns>The status the budget had, whose <see cref="BudgetStatus.Period"/> is the period reset.</returns>
    /// <exception cref="ArgumentException">No budget has this id, or it has no single counter to reset.</exception>
    public async Task<BudgetStatus> ResetAsync(string budgetId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(budgetId);
        var status = (await _status.ReadAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.Policy.Id == budgetId)
            ?? throw new ArgumentException($"No budget named '{budgetId}'. See 'steward budgets list'.");
        var key = BudgetPolicyCatalog.SingleCounterKey(status.Policy) ?? throw new ArgumentException(
            $"Budget '{budgetId}' is per {status.Policy.Scope.ToString().ToLowerInvariant()}{(status.Policy.Agent is null ? " for every agent" : "")}; there is no single counter to reset.");
        await _ledger.ResetAsync(key, status.Period, cancellationToken).ConfigureAwait(false);
        return status;
    }
}
