using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Costs;

/// <summary>What was used, by which provider and model, for pricing.</summary>
/// <param name="Provider">The provider the run used.</param>
/// <param name="ResponseModel">The model id the provider reported (e.g. a dated snapshot); preferred over the requested one when priced.</param>
/// <param name="Usage">Token counts; cached input is inside input, reasoning inside output.</param>
/// <param name="FromCache">The response was served from Steward's response cache: it costs nothing.</param>
public sealed record PricingRequest(ResolvedProvider Provider, string? ResponseModel, RunUsage Usage, bool FromCache = false);

/// <summary>The runner's pricing seam: what a run's usage cost, and the most a request could cost.</summary>
public interface IRunPricer
{
    /// <summary>Prices actual usage. Returns <see cref="RunCost.Unpriced"/> for a model with no known price.</summary>
    RunCost Price(PricingRequest request);

    /// <summary>
    /// The most a request can cost: every input token at the full input rate (no cache discount) and the whole
    /// output cap at the output rate. <see cref="RunCost.Unpriced"/> for a model with no known price.
    /// </summary>
    RunCost PriceWorstCase(ResolvedProvider provider, long inputTokens, long maxOutputTokens);
}

/// <summary>
/// Prices runs from the <see cref="PricingCatalog"/>: the provider-reported model first, then the requested model
/// (an Azure deployment through its configured alias). Models Steward runs itself (<c>local</c>) or that run on the
/// user's Ollama cost 0 and say "self-hosted"; a model with no price is unpriced, never free. Thread-safe.
/// </summary>
internal sealed partial class CatalogRunPricer(PricingCatalog catalog, ILogger<CatalogRunPricer> logger) : IRunPricer
{
    private static readonly RunCost SelfHosted = new(0m, SelfHosted: true);
    private static readonly ModelPrice SelfHostedPrice = new("self-hosted", PriceRates.Free, [], SelfHosted: true, EffectiveDate: null, "provider kind");
    private readonly ConcurrentDictionary<string, bool> _reportedUnpriced = new(StringComparer.OrdinalIgnoreCase);

    public RunCost Price(PricingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Provider);
        if (request.FromCache)
        {
            return new RunCost(0m);
        }

        if (Find(request.Provider, request.ResponseModel) is not { } price)
        {
            return RunCost.Unpriced;
        }

        return price.SelfHosted ? SelfHosted : new RunCost(CostCalculator.Cost(price, request.Usage));
    }

    public RunCost PriceWorstCase(ResolvedProvider provider, long inputTokens, long maxOutputTokens)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (Find(provider, responseModel: null) is not { } price)
        {
            return RunCost.Unpriced;
        }

        return price.SelfHosted ? SelfHosted : new RunCost(CostCalculator.WorstCase(price, inputTokens, maxOutputTokens));
    }

    private ModelPrice? Find(ResolvedProvider provider, string? responseModel)
    {
        if (provider.Info.SelfHosted)
        {
            return SelfHostedPrice;
        }

        var price = catalog.Find(responseModel, provider.Model);
        if (price is null && _reportedUnpriced.TryAdd(responseModel ?? provider.Model, true))
        {
            LogUnpriced(logger, responseModel ?? provider.Model, provider.Name);
        }

        return price;
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information,
        Message = "No price for model {Model} on provider {Provider}: its runs are recorded as unpriced. Add it under Steward:Pricing:Models or map it with Steward:Pricing:Aliases.")]
    private static partial void LogUnpriced(ILogger logger, string model, string provider);
}
