using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>
/// Every budget policy: from configuration, from presets' <c>budget:</c> sections, and set with <c>steward budgets set</c>
/// (stored in the database, re-read every few seconds so another process's change takes effect). Thread-safe.
/// </summary>
internal sealed class BudgetPolicyCatalog : IDisposable
{
    private static readonly TimeSpan StoredRefresh = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<BudgetPolicy> _configured;
    private readonly bool _allowPrivateWebhooks;
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile StoredSnapshot _stored = new([], DateTimeOffset.MinValue);

    private const int MaxCachedCalls = 1024;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string? Preset, PresetBudget? Budget, bool Judge), (IReadOnlyList<BudgetPolicy> Stored, IReadOnlyList<BudgetPolicy> Policies)> _forCall = new();

    private readonly StorageBackend _writeLock;

    public BudgetPolicyCatalog(IOptions<BudgetOptions> options, IDbContextFactory<StewardDbContext> contexts, StorageBackend writeLock, TimeProvider time)
    {
        _writeLock = writeLock;
        _configured = options.Value.Policies.Select(p => p with { Source = "configuration" }).ToArray();
        _allowPrivateWebhooks = options.Value.AllowPrivateWebhooks;
        _contexts = contexts;
        _time = time;
    }

    /// <summary>The policies that cover an agent's call for <paramref name="preset"/> (every scope but judge budgets).</summary>
    public ValueTask<IReadOnlyList<BudgetPolicy>> ForPresetAsync(AgentPreset preset, CancellationToken cancellationToken) =>
        ForCallAsync(preset, judge: false, cancellationToken);

    /// <summary>
    /// The policies that cover one model call. Without a preset, only global budgets. A judge's call counts against the
    /// judge and global budgets when any judge budget exists; otherwise against the agent's, except per-request ones
    /// (the request was answered already).
    /// </summary>
    public async ValueTask<IReadOnlyList<BudgetPolicy>> ForCallAsync(AgentPreset? preset, bool judge, CancellationToken cancellationToken)
    {
        var stored = await StoredAsync(cancellationToken).ConfigureAwait(false);
        // Every model call asks; the answer changes only with the stored policies (re-read every two seconds, which makes a
        // new list) or the preset's name and budget, so it is kept for those.
        var key = (preset?.Name, preset?.Budget, judge);
        if (_forCall.TryGetValue(key, out var cached) && ReferenceEquals(cached.Stored, stored))
        {
            return cached.Policies;
        }

        var policies = Select(preset, judge, stored);
        if (_forCall.Count >= MaxCachedCalls)
        {
            // Pass-through presets are named by the caller's model: keep the cache bounded whatever callers send.
            _forCall.Clear();
        }

        _forCall[key] = (stored, policies);
        return policies;
    }

    private BudgetPolicy[] Select(AgentPreset? preset, bool judge, IReadOnlyList<BudgetPolicy> stored)
    {
        // API-key budgets come with the request (its key), never from this catalog.
        var all = _configured.Concat(preset is null ? [] : FromPreset(preset)).Concat(stored)
            .Where(p => p.Scope != BudgetScope.ApiKey && (preset is null || p.AppliesTo(preset.Name)));
        if (preset is null)
        {
            return all.Where(p => p.Scope == BudgetScope.Global).ToArray();
        }

        if (!judge)
        {
            return all.Where(p => p.Scope != BudgetScope.Judge).ToArray();
        }

        var list = all.ToArray();
        return list.Any(p => p.Scope == BudgetScope.Judge)
            ? list.Where(p => p.Scope is BudgetScope.Judge or BudgetScope.Global).ToArray()
            : list.Where(p => p.Scope is not (BudgetScope.Judge or BudgetScope.Request)).ToArray();
    }

    /// <summary>Every policy, for listings.</summary>
    public async Task<IReadOnlyList<BudgetPolicy>> ListAsync(IEnumerable<AgentPreset> presets, CancellationToken cancellationToken)
    {
        var stored = await StoredAsync(cancellationToken, force: true).ConfigureAwait(false);
        return _configured.Concat(presets.SelectMany(FromPreset)).Concat(stored).ToArray();
    }

    /// <summary>Adds or replaces a CLI policy.</summary>
    /// <exception cref="ArgumentException">The policy is invalid, or its id belongs to configuration or a preset.</exception>
    public async Task SetAsync(BudgetPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var problems = policy.Validate(_allowPrivateWebhooks).ToList();
        if (policy.Scope == BudgetScope.ApiKey)
        {
            problems.Add($"budget '{policy.Id}': a key's budget is set with 'steward keys create NAME --budget-usd N --period daily'");
        }

        if (_configured.Any(p => p.Id == policy.Id) || policy.Id.StartsWith("preset:", StringComparison.Ordinal))
        {
            problems.Add($"budget '{policy.Id}' is defined in configuration or a preset; choose another name");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems) + ".");
        }

        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var record = await db.BudgetPolicies.FindAsync([policy.Id], cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            record = new BudgetPolicyRecord { Id = policy.Id, CreatedAt = _time.GetUtcNow().UtcDateTime };
            db.BudgetPolicies.Add(record);
        }

        record.Scope = policy.Scope.ToString();
        record.Agent = policy.Agent;
        record.Period = policy.Period.ToString();
        record.MaxTokens = policy.MaxTokens;
        record.MaxNanoUsd = NanoUsd.FromUsd(policy.MaxUsd);
        record.Mode = policy.Mode.ToString();
        record.Thresholds = string.Join(',', policy.Thresholds.Select(t => t.ToString(CultureInfo.InvariantCulture)));
        record.Webhook = policy.Webhook;
        using (await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        _stored = _stored with { ReadAt = DateTimeOffset.MinValue };
    }

    /// <summary>Removes a CLI policy; returns false when there is none of that id.</summary>
    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        var removed = await db.BudgetPolicies.Where(p => p.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) > 0;
        _stored = _stored with { ReadAt = DateTimeOffset.MinValue };
        return removed;
    }

    /// <summary>The counter key a policy uses for a run.</summary>
    public const string SessionKeyPrefix = "session:";

    public static bool IsSessionKey(string scopeKey) => scopeKey.StartsWith(SessionKeyPrefix, StringComparison.Ordinal);

    public static string ScopeKey(BudgetPolicy policy, string preset, Guid sessionId) => policy.Scope switch
    {
        BudgetScope.Global => "global",
        BudgetScope.Agent => "agent:" + preset,
        BudgetScope.Session => SessionScopeKey(sessionId),
        BudgetScope.Judge => "judge",
        BudgetScope.ApiKey => ApiKeyScopeKey(policy.ApiKey ?? ""),
        _ => "request",
    };

    /// <summary>The counter of a session's budgets.</summary>
    /// <remarks>One string made in place: every model call of a session names it.</remarks>
    public static string SessionScopeKey(Guid sessionId) => string.Create(SessionKeyPrefix.Length + 32, sessionId, static (span, id) =>
    {
        SessionKeyPrefix.CopyTo(span);
        id.TryFormat(span[SessionKeyPrefix.Length..], out _, "N");
    });

    /// <summary>The counter of a gateway key's budget.</summary>
    public static string ApiKeyScopeKey(string keyId) => "key:" + keyId;

    /// <summary>
    /// The one counter a policy has regardless of the run (global, or an agent budget naming its preset); <see langword="null"/>
    /// for per-session and per-request budgets, which have a counter per session or none.
    /// </summary>
    public static string? SingleCounterKey(BudgetPolicy policy) => policy.Scope switch
    {
        BudgetScope.Global or BudgetScope.Judge => ScopeKey(policy, "", Guid.Empty),
        BudgetScope.Agent when policy.Agent is { } agent => ScopeKey(policy, agent, Guid.Empty),
        BudgetScope.ApiKey => ScopeKey(policy, "", Guid.Empty),
        _ => null,
    };

    /// <summary>How a policy's scope reads in messages.</summary>
    public static string DescribeScope(BudgetPolicy policy, string preset) => policy.Scope switch
    {
        BudgetScope.Global => $"global budget '{policy.Id}'",
        BudgetScope.Agent => $"agent '{preset}' budget '{policy.Id}'",
        BudgetScope.Session => $"session budget '{policy.Id}'",
        BudgetScope.Judge => $"judge budget '{policy.Id}'",
        BudgetScope.ApiKey => $"API key budget '{policy.Id}'",
        _ => $"request budget '{policy.Id}'",
    };

    internal static IEnumerable<BudgetPolicy> FromPreset(AgentPreset preset)
    {
        var b = preset.Budget;
        BudgetPolicy Make(string field, BudgetScope scope, BudgetPeriod period, long? tokens, decimal? usd) => new()
        {
            Id = $"preset:{preset.Name}:{field}", Scope = scope, Agent = preset.Name, Period = period, MaxTokens = tokens, MaxUsd = usd, Source = "preset",
        };

        if (b.MaxTokensPerRequest is not null || b.MaxCostPerRequestUsd is not null)
        {
            yield return Make("request", BudgetScope.Request, BudgetPeriod.None, b.MaxTokensPerRequest, b.MaxCostPerRequestUsd);
        }

        if (b.MaxTokensPerSession is not null || b.MaxCostPerSessionUsd is not null)
        {
            yield return Make("session", BudgetScope.Session, BudgetPeriod.None, b.MaxTokensPerSession, b.MaxCostPerSessionUsd);
        }

        if (b.DailyCostUsd is { } daily)
        {
            yield return Make("daily", BudgetScope.Agent, BudgetPeriod.Daily, null, daily);
        }

        if (b.MonthlyCostUsd is { } monthly)
        {
            yield return Make("monthly", BudgetScope.Agent, BudgetPeriod.Monthly, null, monthly);
        }
    }

    private async ValueTask<IReadOnlyList<BudgetPolicy>> StoredAsync(CancellationToken cancellationToken, bool force = false)
    {
        var snapshot = _stored;
        if (!force && _time.GetUtcNow() - snapshot.ReadAt < StoredRefresh)
        {
            return snapshot.Policies;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!force && _time.GetUtcNow() - _stored.ReadAt < StoredRefresh)
            {
                return _stored.Policies;
            }

            await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var records = await db.BudgetPolicies.AsNoTracking().OrderBy(p => p.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            var policies = records.Select(r => new BudgetPolicy
            {
                Id = r.Id,
                Scope = Enum.Parse<BudgetScope>(r.Scope),
                Agent = r.Agent,
                Period = Enum.Parse<BudgetPeriod>(r.Period),
                MaxTokens = r.MaxTokens,
                MaxUsd = NanoUsd.ToUsd(r.MaxNanoUsd),
                Mode = Enum.Parse<BudgetMode>(r.Mode),
                Thresholds = r.Thresholds.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(),
                Webhook = r.Webhook,
                Source = "cli",
            }).ToArray();
            _stored = new StoredSnapshot(policies, _time.GetUtcNow());
            return policies;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose() => _refresh.Dispose();

    private sealed record StoredSnapshot(IReadOnlyList<BudgetPolicy> Policies, DateTimeOffset ReadAt);
}
