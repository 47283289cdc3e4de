using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Costs;
using Steward.Providers;

namespace Steward.Tests.Costs;

/// <summary>Builds the pricing services as production does (<c>AddStewardCosts</c> over a <c>Steward</c> section).</summary>
internal static class PricingTestHelpers
{
    public static ServiceProvider Services(Dictionary<string, string?>? settings = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddStewardCosts(configuration.GetSection("Steward"));
        return services.BuildServiceProvider();
    }

    public static IRunPricer Pricer(Dictionary<string, string?>? settings = null)
    {
        var services = Services(settings);
        _ = services.GetRequiredService<IOptions<PricingOptions>>().Value;
        return services.GetRequiredService<IRunPricer>();
    }

    public static ResolvedProvider Provider(string model, string kind = ProviderKinds.OpenAI, string name = "cloud") =>
        new(name, kind, model, new ProviderOptions { Kind = kind, Model = model });

    public static string WriteTempFile(string json)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("steward-prices-").FullName, "prices.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>A replacement prices file with a long-context tier, used by the tier tests.</summary>
    public const string TieredFile = """
        {
          "schema_version": 1,
          "models": [
            {
              "model": "long-ctx", "input": 1.00, "cached_input": 0.25, "output": 4.00, "effective_date": "2026-01-01",
              "tiers": [ { "above_input_tokens": 200000, "input": 2.00, "cached_input": 0.50, "output": 6.00 } ]
            }
          ],
          "patterns": [ { "pattern": "long-ctx-*", "model": "long-ctx" } ]
        }
        """;
}
