using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Steward.Costs;

/// <summary>Registers pricing and cost reports.</summary>
internal static class CostsServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="PricingOptions"/> (bound from <c>Pricing</c> under <paramref name="stewardSection"/>, validated
    /// at start), the <see cref="PricingCatalog"/> (one per container), the catalog-backed <see cref="IRunPricer"/>
    /// unless one is registered already, and <see cref="CostReports"/>.
    /// </summary>
    public static IServiceCollection AddStewardCosts(this IServiceCollection services, IConfiguration stewardSection)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(stewardSection);

        services.AddOptions<PricingOptions>().Bind(stewardSection.GetSection("Pricing")).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PricingOptions>, PricingOptionsValidator>());
        services.TryAddSingleton<PricingCatalog>();
        services.TryAddSingleton<IRunPricer, CatalogRunPricer>();
        services.TryAddSingleton<CostReports>();
        return services;
    }
}
