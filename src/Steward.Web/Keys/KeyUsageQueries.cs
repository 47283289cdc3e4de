using Steward.Costs;
using Steward.Keys;

namespace Steward.Web.Keys;

/// <summary>One key's usage over the runs a filter selects.</summary>
internal sealed record KeyUsage(string KeyId, string Name, CostSummary Summary);

/// <summary>
/// What each gateway key used: runs, tokens and cost, summed by the database over the runs made with a key (an index
/// holds only those), and the keys themselves with what is left of their budgets. Thread-safe.
/// </summary>
internal sealed class KeyUsageQueries(ApiKeys keys)
{
    public async Task<IReadOnlyList<KeyUsage>> GetUsageAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var usage = await keys.GetUsageAsync(filter, cancellationToken).ConfigureAwait(false);
        var names = (await keys.ListAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(k => k.Id, k => k.Name, StringComparer.Ordinal);
        return [.. usage.Select(u => new KeyUsage(u.KeyId, names.GetValueOrDefault(u.KeyId, u.KeyId), u.Summary))
            .OrderByDescending(u => u.Summary.CostUsd).ThenBy(u => u.Name, StringComparer.Ordinal)];
    }

    /// <summary>Every key with what is left of its budget this period (<see langword="null"/> without one).</summary>
    public async Task<IReadOnlyList<(ApiKeyInfo Key, string? Remaining)>> GetKeysAsync(CancellationToken cancellationToken)
    {
        var list = await keys.ListAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<(ApiKeyInfo, string?)>(list.Count);
        foreach (var key in list)
        {
            result.Add((key, await keys.DescribeRemainingAsync(key, cancellationToken).ConfigureAwait(false)));
        }

        return result;
    }
}
