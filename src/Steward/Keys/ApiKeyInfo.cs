using System.Globalization;
using Steward.Budgets;

namespace Steward.Keys;

/// <summary>A gateway key as listed: everything but the secret, which is shown once when the key is made and never stored.</summary>
public sealed record ApiKeyInfo
{
    /// <summary>Stable id (<c>key_…</c>); runs made with the key carry it.</summary>
    public required string Id { get; init; }

    /// <summary>The name it was created with; unique.</summary>
    public required string Name { get; init; }

    /// <summary>The secret's first characters (<c>sk-stw-ab12</c>), to recognise it.</summary>
    public required string Prefix { get; init; }

    /// <summary>Models the key may call: preset names or <c>PROVIDER/MODEL</c>, a trailing <c>*</c> matching any rest. Empty for any.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Most USD per <see cref="BudgetPeriod"/>; <see langword="null"/> for no USD limit.</summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary>Most tokens (input plus output) per <see cref="BudgetPeriod"/>; <see langword="null"/> for no token limit.</summary>
    public long? BudgetTokens { get; init; }

    /// <summary>The window of the key's budget.</summary>
    public BudgetPeriod BudgetPeriod { get; init; } = BudgetPeriod.None;

    /// <summary>Most requests per minute; <see langword="null"/> for no limit.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Most tokens per minute (prompt estimate before, output after); <see langword="null"/> for no limit.</summary>
    public int? TokensPerMinute { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>
    /// The role the key holds on Steward's own API (<c>/api</c>): <c>viewer</c>, <c>operator</c> or <c>admin</c>;
    /// <see langword="null"/> for a gateway key, accepted on <c>/v1</c> only.
    /// </summary>
    public string? Role { get; init; }

    /// <summary><c>active</c>, <c>revoked</c> or <c>expired</c> at <paramref name="now"/>.</summary>
    public string State(DateTimeOffset now) => RevokedAt is not null ? "revoked" : ExpiresAt is { } e && e <= now ? "expired" : "active";

    /// <summary>Whether the key may call <paramref name="model"/> (a preset name or <c>PROVIDER/MODEL</c>).</summary>
    public bool Allows(string model) =>
        Models.Count == 0 || Models.Any(m => m.EndsWith('*')
            ? model.StartsWith(m[..^1], StringComparison.Ordinal)
            : string.Equals(m, model, StringComparison.Ordinal));

    /// <summary>The key's budget as a policy of its own scope (a hard limit), or none.</summary>
    public IReadOnlyList<BudgetPolicy> Budgets { get; init; } = [];

    internal static IReadOnlyList<BudgetPolicy> BudgetsOf(string id, string name, decimal? usd, long? tokens, BudgetPeriod period) =>
        usd is null && tokens is null
            ? []
            : [new BudgetPolicy
            {
                Id = "key:" + name, Scope = BudgetScope.ApiKey, ApiKey = id, Period = period, MaxUsd = usd, MaxTokens = tokens, Source = "key",
            }];

    /// <summary>The limits in one line, for listings.</summary>
    public string DescribeLimits()
    {
        var parts = new List<string>();
        if (BudgetUsd is { } usd)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"${usd:0.######}"));
        }

        if (BudgetTokens is { } tokens)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{tokens:N0} tokens"));
        }

        var budget = parts.Count == 0 ? "" : string.Join(" and ", parts) + (BudgetPeriod == BudgetPeriod.None ? " in total" : " " + BudgetPeriod.ToString().ToLowerInvariant());
        var rates = new[]
        {
            RequestsPerMinute is { } rpm ? string.Create(CultureInfo.InvariantCulture, $"{rpm} requests/min") : null,
            TokensPerMinute is { } tpm ? string.Create(CultureInfo.InvariantCulture, $"{tpm:N0} tokens/min") : null,
        }.OfType<string>();
        var all = new[] { budget }.Concat(rates).Where(s => s.Length > 0).ToArray();
        return all.Length == 0 ? "no limits" : string.Join("; ", all);
    }
}

/// <summary>What <c>steward keys create</c> (or the Keys page, or <c>POST /api/keys</c>) asks for.</summary>
public sealed record ApiKeySpec
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public decimal? BudgetUsd { get; init; }
    public long? BudgetTokens { get; init; }
    public BudgetPeriod BudgetPeriod { get; init; } = BudgetPeriod.None;
    public int? RequestsPerMinute { get; init; }
    public int? TokensPerMinute { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The role on <c>/api</c> (<c>viewer</c>, <c>operator</c>, <c>admin</c>); <see langword="null"/> for a <c>/v1</c>-only gateway key.</summary>
    public string? Role { get; init; }

    /// <summary>Every problem with the spec, each naming the option to fix.</summary>
    public IEnumerable<string> Validate(DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 100 || Name.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            yield return "NAME: 1 to 100 characters without spaces (e.g. billing-service)";
        }

        if (BudgetUsd is { } usd && (usd <= 0 || usd > BudgetPolicy.MaxUsdLimit))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"--budget-usd: more than 0 and at most {BudgetPolicy.MaxUsdLimit:N0}");
        }

        if (BudgetTokens is { } tokens && (tokens <= 0 || tokens > BudgetPolicy.MaxTokensLimit))
        {
            yield return "--budget-tokens: more than 0";
        }

        if (BudgetPeriod != BudgetPeriod.None && BudgetUsd is null && BudgetTokens is null)
        {
            yield return "--period: needs --budget-usd or --budget-tokens";
        }

        if (RequestsPerMinute is <= 0 or > 1_000_000)
        {
            yield return "--rpm: between 1 and 1000000";
        }

        if (TokensPerMinute is <= 0)
        {
            yield return "--tpm: more than 0";
        }

        if (ExpiresAt is { } expires && expires <= now)
        {
            yield return "--expires: a time in the future";
        }

        if (Role is not null && Steward.Users.StewardRoles.Rank(Role) < 0)
        {
            yield return $"--role: '{Role}' is not a role; use viewer, operator or admin";
        }

        foreach (var model in Models.Where(m => string.IsNullOrWhiteSpace(m) || m.Contains(',', StringComparison.Ordinal) || m.IndexOf('*') is >= 0 and var i && i != m.Length - 1))
        {
            yield return $"--models: '{model}' is not a model name (a preset, PROVIDER/MODEL, or a prefix ending in *)";
        }
    }
}
