namespace Steward.Storage;

/// <summary>
/// A virtual key of the gateway. The secret itself is never stored: only its SHA-256 (the secret is 256 random bits, so
/// a slow password hash would add nothing but latency on every request) and its first characters, to recognise it.
/// </summary>
internal sealed class ApiKeyRecord
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";

    /// <summary>The first characters of the secret (<c>sk-stw-ab12</c>), shown in listings.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>Lower-case hex SHA-256 of the whole secret.</summary>
    public string Hash { get; set; } = "";

    /// <summary>Models the key may call (preset names or <c>PROVIDER/MODEL</c>, <c>*</c> wildcards), comma-separated; <see langword="null"/> for any.</summary>
    public string? Models { get; set; }

    public long? BudgetNanoUsd { get; set; }
    public long? BudgetTokens { get; set; }
    public string BudgetPeriod { get; set; } = "None";
    public int? RequestsPerMinute { get; set; }
    public int? TokensPerMinute { get; set; }
    public DateTime? ExpiresAt { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? RevokedAt { get; set; }

    /// <summary>The role the key holds on Steward's own API (<c>/api</c>); <see langword="null"/> for a gateway-only key (<c>/v1</c>).</summary>
    public string? Role { get; set; }
}
