using Steward.Agents;

namespace Steward.Costs;

/// <summary>
/// Turns token counts into USD with exclusive buckets, so nothing is counted twice: cached input is inside input
/// and reasoning is inside output. Exact <see cref="decimal"/> arithmetic; nothing is rounded (round for display).
/// </summary>
internal static class CostCalculator
{
    private const decimal TokensPerRateUnit = 1_000_000m;

    /// <summary>
    /// <c>(input − cached) × input + cached × cached_input + (output − reasoning) × output + reasoning × reasoning</c>,
    /// rates per 1M tokens, using the tier the input falls in.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A token count is negative.</exception>
    public static decimal Cost(ModelPrice price, RunUsage usage)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.InputTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.CachedInputTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.OutputTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.ReasoningTokens, nameof(usage));

        var rates = price.RatesFor(usage.InputTokens);

        // A provider that reports more cached than input (or more reasoning than output) is not trusted beyond the total.
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var reasoning = Math.Min(usage.ReasoningTokens, usage.OutputTokens);
        var perMillion =
            ((decimal)(usage.InputTokens - cached) * rates.Input)
            + ((decimal)cached * rates.EffectiveCachedInput)
            + ((decimal)(usage.OutputTokens - reasoning) * rates.Output)
            + ((decimal)reasoning * rates.EffectiveReasoning);
        return perMillion / TokensPerRateUnit;
    }

    /// <summary>
    /// The most a request can cost: all input at the full input rate (no cache discount) and the whole output cap
    /// at the higher of the output and reasoning rates, using the tier the input falls in.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A token count is negative.</exception>
    public static decimal WorstCase(ModelPrice price, long inputTokens, long maxOutputTokens)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentOutOfRangeException.ThrowIfNegative(inputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(maxOutputTokens);

        var rates = price.RatesFor(inputTokens);
        var outputRate = Math.Max(rates.Output, rates.EffectiveReasoning);
        return (((decimal)inputTokens * rates.Input) + ((decimal)maxOutputTokens * outputRate)) / TokensPerRateUnit;
    }
}
