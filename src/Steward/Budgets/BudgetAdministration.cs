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

    internal BudgetAdministration(BudgetPolicyCatalog policies, BudgetLedger ledger, BudgetStatusReader status)
    {
        _policies = policies;
        _ledger = ledger;
        _status = status;
    }

    /// <summary>The log category of budget alerts (webhook deliveries), for a host that filters their log lines.</summary>
    public const string AlertLogCategory = "Steward.Budgets.BudgetAlertNotifier";

    /// <summary>Adds a budget or replaces the one with the same id; every process sees it within a second.</summary>
    /// <exception cref="ArgumentException">The budget is invalid (every problem listed) or its id belongs to a configured or preset budget.</exception>
    public Task SetAsync(BudgetPolicy policy, CancellationToken cancellationToken) => _policies.SetAsync(policy, cancellationToken);

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
