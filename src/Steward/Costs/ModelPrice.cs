namespace Steward.Costs;

/// <summary>Rates in USD per 1M tokens, one per exclusive token bucket.</summary>
/// <param name="Input">Input tokens not read from cache.</param>
/// <param name="CachedInput">Input tokens read from the provider's prompt cache; <see langword="null"/> means the input rate.</param>
/// <param name="Output">Output tokens that are not reasoning.</param>
/// <param name="Reasoning">Reasoning tokens; <see langword="null"/> means the output rate.</param>
public sealed record PriceRates(decimal Input, decimal? CachedInput, decimal Output, decimal? Reasoning = null)
{
    /// <summary>The rate of cache reads.</summary>
    public decimal EffectiveCachedInput => CachedInput ?? Input;

    /// <summary>The rate of reasoning tokens.</summary>
    public decimal EffectiveReasoning => Reasoning ?? Output;

    /// <summary>Nothing to pay.</summary>
    public static PriceRates Free { get; } = new(0m, 0m, 0m, 0m);
}

/// <summary>Rates that apply instead of the base ones when a request's input tokens exceed a threshold (e.g. long context).</summary>
/// <param name="AboveInputTokens">The tier applies when input tokens are strictly more than this.</param>
/// <param name="Rates">The tier's rates, for every token of the request.</param>
public sealed record PriceTier(long AboveInputTokens, PriceRates Rates);

/// <summary>A model's price as the catalog knows it.</summary>
/// <param name="Model">The model id (or a catalog name such as <c>open-weights</c>).</param>
/// <param name="Rates">Base rates.</param>
/// <param name="Tiers">Tiers by input size, ascending thresholds; empty for most models.</param>
/// <param name="SelfHosted">Runs on the user's own hardware: costs 0 and is shown as self-hosted.</param>
/// <param name="EffectiveDate">Since when this price applies.</param>
/// <param name="Source">Where the price came from: the prices file, or <c>configuration</c>.</param>
public sealed record ModelPrice(string Model, PriceRates Rates, IReadOnlyList<PriceTier> Tiers, bool SelfHosted, DateOnly? EffectiveDate, string Source)
{
    /// <summary>The rates for a request of <paramref name="inputTokens"/>: the highest tier whose threshold it exceeds, else the base rates.</summary>
    public PriceRates RatesFor(long inputTokens)
    {
        if (SelfHosted)
        {
            return PriceRates.Free;
        }

        var rates = Rates;
        foreach (var tier in Tiers)
        {
            if (inputTokens > tier.AboveInputTokens)
            {
                rates = tier.Rates;
            }
        }

        return rates;
    }
}

/// <summary>The prices file or the pricing configuration is invalid. The message names the file and every model at fault.</summary>
public sealed class PricingCatalogException : Exception
{
    public PricingCatalogException(string message) : base(message) { }

    public PricingCatalogException(string message, Exception innerException) : base(message, innerException) { }

    public PricingCatalogException() { }
}
