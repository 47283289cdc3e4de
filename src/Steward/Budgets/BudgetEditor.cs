using Steward.Agents;

namespace Steward.Budgets;

/// <summary>
/// Adds, changes and removes the budgets stored in the database (those <c>steward budgets set</c> makes), for hosts
/// such as the web app. Checked exactly as the CLI checks them; every Steward process on the database picks a change
/// up within its refresh interval (two seconds).
/// </summary>
public sealed class BudgetEditor
{
    private readonly BudgetPolicyCatalog _catalog;
    private readonly PresetCatalog _presets;

    internal BudgetEditor(BudgetPolicyCatalog catalog, PresetCatalog presets)
    {
        _catalog = catalog;
        _presets = presets;
    }

    /// <summary>Adds the budget, or replaces the stored one of the same id.</summary>
    /// <exception cref="ArgumentException">The budget is invalid, names no preset, or its id belongs to configuration or a preset; the message lists every problem.</exception>
    public async Task SetAsync(BudgetPolicy policy, CancellationToken cancellationToken)
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

        await _catalog.SetAsync(policy with { Source = "cli" }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a stored budget; false when no stored budget has that id (configuration and presets are not changed here).</summary>
    public Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return _catalog.RemoveAsync(id, cancellationToken);
    }
}
