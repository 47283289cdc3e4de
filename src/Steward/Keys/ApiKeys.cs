using Steward.Budgets;
using Steward.Costs;

namespace Steward.Keys;

/// <summary>
/// The gateway's virtual keys as the hosts manage and check them: made (the secret shown once), listed, revoked, a
/// presented secret authenticated, and what each key used and has left of its budget. Registered by <c>AddSteward</c>;
/// thread-safe.
/// </summary>
public sealed class ApiKeys
{
    private readonly ApiKeyStore _store;
    private readonly BudgetRemaining _remaining;
    private readonly CostReports _reports;

    internal ApiKeys(ApiKeyStore store, BudgetRemaining remaining, CostReports reports)
    {
        _store = store;
        _remaining = remaining;
        _reports = reports;
    }

    /// <summary>Every key's secret starts with this (<c>sk-stw-</c>).</summary>
    public const string SecretPrefix = ApiKeyStore.SecretPrefix;

    /// <summary>Makes a key; returns it and its secret, which is not kept anywhere and cannot be shown again.</summary>
    /// <exception cref="ArgumentException">The spec is invalid (every problem listed), or the name is taken.</exception>
    public Task<(ApiKeyInfo Key, string Secret)> CreateAsync(ApiKeySpec spec, CancellationToken cancellationToken) => _store.CreateAsync(spec, cancellationToken);

    /// <summary>Every key, revoked ones included, without secrets.</summary>
    public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken) => _store.ListAsync(cancellationToken);

    /// <summary>One key by id or name.</summary>
    /// <exception cref="ApiKeyNotFoundException">No key has this id or name.</exception>
    public Task<ApiKeyInfo> GetAsync(string idOrName, CancellationToken cancellationToken) => _store.GetAsync(idOrName, cancellationToken);

    /// <summary>Revokes a key by id or name; it stops working within a second in every process.</summary>
    /// <exception cref="ApiKeyNotFoundException">No key has this id or name.</exception>
    public Task<ApiKeyInfo> RevokeAsync(string idOrName, CancellationToken cancellationToken) => _store.RevokeAsync(idOrName, cancellationToken);

    /// <summary>The key a request presented, or why it is refused (missing, unknown, revoked, expired).</summary>
    public ValueTask<(ApiKeyInfo? Key, ApiKeyRejection Rejection)> AuthenticateAsync(string? secret, CancellationToken cancellationToken) =>
        _store.AuthenticateAsync(secret, cancellationToken);

    /// <summary>
    /// What is left of the key's budget in its current period, as <c>"4.25 USD"</c> or <c>"12000 tokens"</c> (spend of
    /// runs in flight counted); <see langword="null"/> for a key without a budget.
    /// </summary>
    public async ValueTask<string?> DescribeRemainingAsync(ApiKeyInfo key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.Budgets.Count > 0 ? await _remaining.DescribeAsync(key.Budgets[0], cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>How long until the key's budget period starts again; <see langword="null"/> for a key without a budget or period.</summary>
    public TimeSpan? UntilBudgetResets(ApiKeyInfo key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.Budgets.Count > 0 ? _remaining.UntilNextPeriod(key.BudgetPeriod) : null;
    }

    /// <summary>Runs, tokens and cost of the runs <paramref name="filter"/> selects, per key that made any.</summary>
    public Task<IReadOnlyList<(string KeyId, CostSummary Summary)>> GetUsageAsync(CostFilter filter, CancellationToken cancellationToken) =>
        _reports.GetByApiKeyAsync(filter, cancellationToken);
}
