using System.Text.Json.Serialization;

namespace Steward.Budgets;

/// <summary>What a budget limits.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BudgetScope>))]
public enum BudgetScope
{
    /// <summary>Each request on its own (no counter: the request's worst case is checked against the limit).</summary>
    Request,

    /// <summary>Each session's total.</summary>
    Session,

    /// <summary>One agent preset's total.</summary>
    Agent,

    /// <summary>Everything Steward runs.</summary>
    Global,

    /// <summary>
    /// What LLM-as-judge calls spend. When any judge budget is configured, judge calls count against the judge and global
    /// budgets; otherwise against the budgets of the agent whose answer they score.
    /// </summary>
    Judge,

    /// <summary>One gateway key's total (set with <c>steward keys create --budget-usd</c>, not <c>budgets set</c>).</summary>
    ApiKey,
}

/// <summary>The window a budget's counter covers; it starts again at each boundary.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BudgetPeriod>))]
public enum BudgetPeriod
{
    None,
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

/// <summary>Hard budgets refuse a request that would exceed them; soft ones allow it and alert.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BudgetMode>))]
public enum BudgetMode
{
    Hard,
    Soft,
}

/// <summary>One budget: a limit in tokens and/or USD on a scope, per period.</summary>
public sealed record BudgetPolicy
{
    /// <summary>Stable name, e.g. <c>analyst-daily</c>, <c>preset:market_analyst:session-tokens</c>.</summary>
    public required string Id { get; init; }

    public required BudgetScope Scope { get; init; }

    /// <summary>For agent and session scopes: only this preset; <see langword="null"/> applies to every preset.</summary>
    public string? Agent { get; init; }

    public BudgetPeriod Period { get; init; } = BudgetPeriod.None;

    /// <summary>For the API-key scope: the key's id, whose counter this budget has.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Most tokens (input plus output) in the period.</summary>
    public long? MaxTokens { get; init; }

    /// <summary>Most USD in the period.</summary>
    public decimal? MaxUsd { get; init; }

    public BudgetMode Mode { get; init; } = BudgetMode.Hard;

    /// <summary>Utilisation percentages that raise an alert, once each per period.</summary>
    public IReadOnlyList<int> Thresholds { get; init; } = [50, 80, 100];

    /// <summary>A URL to POST alerts to (a JSON body; no secrets).</summary>
    public string? Webhook { get; init; }

    /// <summary>Where the policy comes from: <c>configuration</c>, <c>preset</c> or <c>cli</c>.</summary>
    public string Source { get; init; } = "configuration";

    /// <summary>The largest token limit a budget may have.</summary>
    public const long MaxTokensLimit = 1_000_000_000_000_000;

    /// <summary>The largest USD limit a budget may have.</summary>
    public const decimal MaxUsdLimit = 1_000_000_000m;

    /// <summary>Whether the policy covers a run of <paramref name="preset"/>.</summary>
    public bool AppliesTo(string preset) => Agent is null || string.Equals(Agent, preset, StringComparison.Ordinal);

    /// <summary>Every problem with the policy, each naming the field.</summary>
    /// <param name="allowPrivateWebhooks">Whether the webhook may point at loopback, link-local or private addresses.</param>
    public IEnumerable<string> Validate(bool allowPrivateWebhooks = false)
    {
        if (string.IsNullOrWhiteSpace(Id))
        {
            yield return "a budget policy has no Id";
        }

        if (MaxTokens is null && MaxUsd is null)
        {
            yield return $"budget '{Id}' has neither MaxTokens nor MaxUsd";
        }

        if (MaxTokens is <= 0 || MaxUsd is <= 0)
        {
            yield return $"budget '{Id}': limits must be greater than zero";
        }

        // The ledger counts in long tokens and long nano-USD: a limit past these would overflow, not limit.
        if (MaxTokens is > MaxTokensLimit || MaxUsd is > MaxUsdLimit)
        {
            yield return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"budget '{Id}': limits are at most {MaxTokensLimit:N0} tokens and {MaxUsdLimit:N0} USD");
        }

        if (Scope == BudgetScope.Request && Period != BudgetPeriod.None)
        {
            yield return $"budget '{Id}': a request budget has no period";
        }

        if (Scope == BudgetScope.ApiKey && string.IsNullOrEmpty(ApiKey))
        {
            yield return $"budget '{Id}': an API-key budget names its key";
        }

        if (Thresholds.Any(t => t is <= 0 or > 1000))
        {
            yield return $"budget '{Id}': thresholds are percentages between 1 and 1000";
        }

        if (Webhook is { } hook && WebhookAddresses.Problem(Id, hook, allowPrivateWebhooks) is { } problem)
        {
            yield return problem;
        }
    }
}

/// <summary>Budget settings. Bound from <c>Steward:Budgets</c>.</summary>
public sealed class BudgetOptions
{
    /// <summary>Time zone whose midnight, week (Monday) and month boundaries periods follow. Default UTC.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>
    /// How long a hold outlives its process: a live process renews its holds every third of this, so only a crashed
    /// process's holds expire. Default 2 minutes.
    /// </summary>
    public TimeSpan ReservationTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long settled spend may wait to be written back, so that many runs share one write. Until then it stays
    /// inside this process's hold, so no other process can spend it; a crash loses it from the counters (its holds
    /// expire), not from the runs' cost records. Default 250 ms: each write-back is a transaction of its own on SQLite's
    /// single writer, and at 25 ms they took a tenth of it with one run in flight.
    /// </summary>
    public TimeSpan EscrowFlushInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a counter goes without runs before this process gives its unused hold back. Default 1 second.</summary>
    public TimeSpan EscrowIdleReturn { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Output cap assumed for the worst case when neither the request nor the preset sets one. Default 4096.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>
    /// Whether webhooks may be sent to loopback, link-local and private addresses (a hook on the same host or network).
    /// Default false: a webhook URL is user input, and those addresses reach services that trust their network.
    /// </summary>
    public bool AllowPrivateWebhooks { get; set; }

    /// <summary>Budgets from configuration.</summary>
    public List<BudgetPolicy> Policies { get; } = [];
}
