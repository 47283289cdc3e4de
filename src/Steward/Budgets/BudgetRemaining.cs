using System.Globalization;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>
/// What is left of a budget in its current period: the limit less what is spent and held by runs in flight, as this
/// process knows it (its own unwritten spend included), else as the ledger has it. Thread-safe.
/// </summary>
internal sealed class BudgetRemaining(BudgetEscrow escrow, BudgetLedger ledger, IOptions<BudgetOptions> options, TimeProvider time)
{
    private readonly TimeZoneInfo _zone = BudgetPeriods.FindZone(options.Value.TimeZone);

    /// <summary>
    /// What is left of <paramref name="policy"/> (a budget with one counter: global, agent, API key), in USD when it has a
    /// USD limit, else in tokens, as <c>"4.25 USD"</c> or <c>"12000 tokens"</c>; <see langword="null"/> for a budget without one counter.
    /// </summary>
    public async ValueTask<string?> DescribeAsync(BudgetPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (BudgetPolicyCatalog.SingleCounterKey(policy) is not { } key)
        {
            return null;
        }

        var period = BudgetPeriods.Key(policy.Period, time.GetUtcNow(), _zone);
        (long Tokens, long NanoUsd) used;
        if (escrow.View(key, period) is { } view)
        {
            used = (view.Spent.Tokens + view.Held.Tokens, view.Spent.NanoUsd + view.Held.NanoUsd);
        }
        else
        {
            var state = (await ledger.ReadAsync([(key, period)], cancellationToken).ConfigureAwait(false))[0];
            used = (state.SpentTokens, state.SpentNanoUsd);
        }

        if (policy.MaxUsd is { } usd)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0m, usd - NanoUsd.ToUsd(used.NanoUsd)):0.######} USD");
        }

        return policy.MaxTokens is { } tokens ? string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, tokens - used.Tokens)} tokens") : null;
    }

    /// <summary>How long until the budget's period starts again; <see langword="null"/> for a budget without a period.</summary>
    public TimeSpan? UntilNextPeriod(BudgetPeriod period)
    {
        var now = time.GetUtcNow();
        return BudgetPeriods.NextStart(period, now, _zone) is { } next ? next - now : null;
    }
}
