using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Steward.Agents;
using Steward.Costs;
using Steward.Providers;
using static Steward.Tests.Costs.PricingTestHelpers;

namespace Steward.Tests.Costs;

/// <summary>Golden prices, computed by hand (the arithmetic is in each test; rates are USD per 1M tokens).</summary>
public sealed class CostCalculatorTests
{
    [Fact]
    public void Price_CachedInput_PricesCacheReadsAtCachedRateAndRestAtInputRate()
    {
        // gpt-4o: input 2.50, cached 1.25, output 10.00.
        // (10,000 − 4,000) × 2.50 + 4,000 × 1.25 + 2,000 × 10.00 = 15,000 + 5,000 + 20,000 = 40,000 → / 1M = $0.04
        var cost = Pricer().Price(new PricingRequest(Provider("gpt-4o"), null, new RunUsage(10_000, 4_000, 2_000, 0)));

        Assert.Equal(0.04m, cost.Usd);
        Assert.False(cost.SelfHosted);
    }

    [Fact]
    public void Price_ReasoningWithoutOwnRate_PricesReasoningAtOutputRateOnce()
    {
        // o3: input 2.00, output 8.00, no reasoning rate. Reasoning is inside output and must not be counted twice:
        // 1,000 × 2.00 + (5,000 − 3,000) × 8.00 + 3,000 × 8.00 = 2,000 + 16,000 + 24,000 = 42,000 → $0.042
        var cost = Pricer().Price(new PricingRequest(Provider("o3"), null, new RunUsage(1_000, 0, 5_000, 3_000)));

        Assert.Equal(0.042m, cost.Usd);
    }

    [Fact]
    public void Price_ReasoningWithOwnRate_PricesReasoningBucketSeparately()
    {
        // thinker (configured): input 1, output 4, reasoning 6.
        // 1,000 × 1 + (5,000 − 3,000) × 4 + 3,000 × 6 = 1,000 + 8,000 + 18,000 = 27,000 → $0.027
        var pricer = Pricer(new()
        {
            ["Steward:Pricing:Models:thinker:Input"] = "1",
            ["Steward:Pricing:Models:thinker:Output"] = "4",
            ["Steward:Pricing:Models:thinker:Reasoning"] = "6",
        });

        var cost = pricer.Price(new PricingRequest(Provider("thinker"), null, new RunUsage(1_000, 0, 5_000, 3_000)));

        Assert.Equal(0.027m, cost.Usd);
    }

    [Fact]
    public void Price_InputAtTierThreshold_UsesBaseRates()
    {
        // long-ctx base: input 1.00, output 4.00; the tier starts strictly above 200,000 input tokens.
        // 200,000 × 1.00 + 1,000 × 4.00 = 200,000 + 4,000 = 204,000 → $0.204
        var pricer = Pricer(new() { ["Steward:Pricing:File"] = WriteTempFile(TieredFile) });

        var cost = pricer.Price(new PricingRequest(Provider("long-ctx"), null, new RunUsage(200_000, 0, 1_000, 0)));

        Assert.Equal(0.204m, cost.Usd);
    }

    [Fact]
    public void Price_InputAboveTierThreshold_UsesTierRatesForEveryToken()
    {
        // long-ctx tier above 200,000: input 2.00, cached 0.50, output 6.00.
        // (300,000 − 100,000) × 2.00 + 100,000 × 0.50 + 1,000 × 6.00 = 400,000 + 50,000 + 6,000 = 456,000 → $0.456
        var pricer = Pricer(new() { ["Steward:Pricing:File"] = WriteTempFile(TieredFile) });

        var cost = pricer.Price(new PricingRequest(Provider("long-ctx-2026-01-01"), null, new RunUsage(300_000, 100_000, 1_000, 0)));

        Assert.Equal(0.456m, cost.Usd);
    }

    [Fact]
    public void PriceWorstCase_InputInTier_UsesTierRatesWithoutCacheDiscount()
    {
        // 300,000 × 2.00 + 2,000 × 6.00 = 600,000 + 12,000 = 612,000 → $0.612
        var pricer = Pricer(new() { ["Steward:Pricing:File"] = WriteTempFile(TieredFile) });

        Assert.Equal(0.612m, pricer.PriceWorstCase(Provider("long-ctx"), 300_000, 2_000).Usd);
    }

    [Fact]
    public void Price_ConfiguredTier_AppliesAboveThreshold()
    {
        // A model reached through an OpenAI-compatible endpoint, priced in configuration with a long-context tier.
        // Below: 100,000 × 1.25 + 1,000 × 10 = 125,000 + 10,000 = 135,000 → $0.135
        // Above: 250,000 × 2.50 + 1,000 × 15 = 625,000 + 15,000 = 640,000 → $0.64
        var pricer = Pricer(new()
        {
            ["Steward:Pricing:Models:gemini-2.5-pro:Input"] = "1.25",
            ["Steward:Pricing:Models:gemini-2.5-pro:Output"] = "10",
            ["Steward:Pricing:Models:gemini-2.5-pro:Tiers:0:AboveInputTokens"] = "200000",
            ["Steward:Pricing:Models:gemini-2.5-pro:Tiers:0:Input"] = "2.50",
            ["Steward:Pricing:Models:gemini-2.5-pro:Tiers:0:Output"] = "15",
        });
        var gemini = Provider("gemini-2.5-pro", ProviderKinds.OpenAICompatible, "google");

        Assert.Equal(0.135m, pricer.Price(new PricingRequest(gemini, null, new RunUsage(100_000, 0, 1_000, 0))).Usd);
        Assert.Equal(0.64m, pricer.Price(new PricingRequest(gemini, null, new RunUsage(250_000, 0, 1_000, 0))).Usd);
    }

    [Fact]
    public void Price_ConfiguredOverride_ReplacesShippedPriceForModelAndItsSnapshots()
    {
        // gpt-4o overridden: input 2, output 8, no cached rate → cached input at the input rate.
        // (10,000 − 4,000) × 2 + 4,000 × 2 + 2,000 × 8 = 12,000 + 8,000 + 16,000 = 36,000 → $0.036
        var pricer = Pricer(new()
        {
            ["Steward:Pricing:Models:gpt-4o:Input"] = "2",
            ["Steward:Pricing:Models:gpt-4o:Output"] = "8",
        });
        var usage = new RunUsage(10_000, 4_000, 2_000, 0);

        Assert.Equal(0.036m, pricer.Price(new PricingRequest(Provider("gpt-4o"), null, usage)).Usd);
        Assert.Equal(0.036m, pricer.Price(new PricingRequest(Provider("gpt-4o"), "gpt-4o-2024-08-06", usage)).Usd);
    }

    [Fact]
    public void Price_AzureDeploymentWithAlias_PricesAsAliasedModel()
    {
        // Deployment contoso-prod → gpt-4o-mini (input 0.15, output 0.60).
        // 1,000,000 × 0.15 + 100,000 × 0.60 = 150,000 + 60,000 = 210,000 → $0.21
        var pricer = Pricer(new() { ["Steward:Pricing:Aliases:contoso-prod"] = "gpt-4o-mini" });
        var azure = Provider("contoso-prod", ProviderKinds.AzureOpenAI, "work");

        var cost = pricer.Price(new PricingRequest(azure, null, new RunUsage(1_000_000, 0, 100_000, 0)));

        Assert.Equal(0.21m, cost.Usd);
    }

    [Fact]
    public void Price_AzureDeploymentWithoutAlias_IsUnpriced()
    {
        var cost = Pricer().Price(new PricingRequest(Provider("contoso-prod", ProviderKinds.AzureOpenAI, "work"), null, new RunUsage(1_000, 0, 100, 0)));

        Assert.Same(RunCost.Unpriced, cost);
    }

    [Fact]
    public void Price_ResponseModelKnown_PreferredOverDeploymentAlias()
    {
        // Azure reports the model behind the deployment: gpt-4o-2024-08-06 → gpt-4o (input 2.50, output 10.00).
        // 1,000,000 × 2.50 + 100,000 × 10.00 = 2,500,000 + 1,000,000 = 3,500,000 → $3.50
        var pricer = Pricer(new() { ["Steward:Pricing:Aliases:contoso-prod"] = "gpt-4o-mini" });
        var azure = Provider("contoso-prod", ProviderKinds.AzureOpenAI, "work");

        var cost = pricer.Price(new PricingRequest(azure, "gpt-4o-2024-08-06", new RunUsage(1_000_000, 0, 100_000, 0)));

        Assert.Equal(3.5m, cost.Usd);
    }

    [Theory]
    // 1,000,000 input tokens at the input rate of the model the snapshot belongs to.
    [InlineData("gpt-4o-mini-2024-07-18", "0.15")]
    [InlineData("gpt-4o-2024-11-20", "2.50")]
    [InlineData("gpt-4o-2024-05-13", "5.00")] // the first gpt-4o snapshot had its own price
    [InlineData("GPT-4.1-MINI-2025-04-14", "0.40")]
    [InlineData("gpt-4.1-2025-04-14", "2.00")]
    [InlineData("gpt-5-nano-2025-08-07", "0.05")]
    [InlineData("o3-mini-2025-01-31", "1.10")]
    [InlineData("gpt-4-0125-preview", "10.00")]
    [InlineData("gpt-4-0613", "30.00")]
    public void Price_DatedSnapshot_PricedAsItsModel(string snapshot, string expectedUsd)
    {
        var cost = Pricer().Price(new PricingRequest(Provider("requested-name"), snapshot, new RunUsage(1_000_000, 0, 0, 0)));

        Assert.Equal(decimal.Parse(expectedUsd, System.Globalization.CultureInfo.InvariantCulture), cost.Usd);
    }

    [Fact]
    public void Price_OverlappingConfiguredPatterns_MostSpecificWinsWhateverTheOrder()
    {
        // The broad pattern is listed first; gpt-4o-mini-* pins more characters and must win: 1M × 0.15 = $0.15.
        var pricer = Pricer(new()
        {
            ["Steward:Pricing:Patterns:0:Pattern"] = "gpt-4o*",
            ["Steward:Pricing:Patterns:0:Model"] = "gpt-4o",
            ["Steward:Pricing:Patterns:1:Pattern"] = "gpt-4o-mini*",
            ["Steward:Pricing:Patterns:1:Model"] = "gpt-4o-mini",
        });

        Assert.Equal(0.15m, pricer.Price(new PricingRequest(Provider("gpt-4o-mini-2099-01-01"), null, new RunUsage(1_000_000, 0, 0, 0))).Usd);
        Assert.Equal(2.5m, pricer.Price(new PricingRequest(Provider("gpt-4o-2099-01-01-custom"), null, new RunUsage(1_000_000, 0, 0, 0))).Usd);
    }

    [Fact]
    public void Price_UnknownModel_IsUnpricedNotFree()
    {
        var cost = Pricer().Price(new PricingRequest(Provider("mystery-model-9000"), "mystery-model-9000", new RunUsage(1_000, 0, 100, 0)));

        Assert.Null(cost.Usd);
        Assert.False(cost.IsPriced);
        Assert.Same(RunCost.Unpriced, Pricer().PriceWorstCase(Provider("mystery-model-9000"), 1_000, 100));
    }

    [Theory]
    [InlineData(ProviderKinds.Local, "smollm2-360m")]
    [InlineData(ProviderKinds.Local, "/models/anything.gguf")]
    [InlineData(ProviderKinds.Ollama, "gpt-4o")] // a self-hosted provider never charges, whatever the name
    [InlineData(ProviderKinds.OpenAICompatible, "llama3.1:8b")]
    [InlineData(ProviderKinds.OpenAICompatible, "Qwen/Qwen2.5-7B-Instruct")]
    [InlineData(ProviderKinds.OpenAICompatible, "mistral-7b-instruct")]
    public void Price_SelfHosted_CostsZeroAndSaysSo(string kind, string model)
    {
        var pricer = Pricer();

        var cost = pricer.Price(new PricingRequest(Provider(model, kind), null, new RunUsage(50_000, 0, 10_000, 0)));
        var worst = pricer.PriceWorstCase(Provider(model, kind), 50_000, 10_000);

        Assert.Equal(new RunCost(0m, SelfHosted: true), cost);
        Assert.Equal(new RunCost(0m, SelfHosted: true), worst);
    }

    [Fact]
    public void Price_FromCache_CostsZero()
    {
        var cost = Pricer().Price(new PricingRequest(Provider("gpt-4o"), "gpt-4o", new RunUsage(10_000, 0, 2_000, 0), FromCache: true));

        Assert.Equal(0m, cost.Usd);
        Assert.False(cost.SelfHosted);
    }

    [Fact]
    public void PriceWorstCase_KnownModel_AllInputAtFullRateAndWholeOutputCap()
    {
        // gpt-4o: 10,000 × 2.50 + 1,000 × 10.00 = 25,000 + 10,000 = 35,000 → $0.035
        Assert.Equal(0.035m, Pricer().PriceWorstCase(Provider("gpt-4o"), 10_000, 1_000).Usd);
    }

    [Fact]
    public void PriceWorstCase_ReasoningRateHigher_UsesReasoningRateForOutputCap()
    {
        // thinker: 1,000 × 1 + 1,000 × max(4, 6) = 1,000 + 6,000 = 7,000 → $0.007
        var pricer = Pricer(new()
        {
            ["Steward:Pricing:Models:thinker:Input"] = "1",
            ["Steward:Pricing:Models:thinker:Output"] = "4",
            ["Steward:Pricing:Models:thinker:Reasoning"] = "6",
        });

        Assert.Equal(0.007m, pricer.PriceWorstCase(Provider("thinker"), 1_000, 1_000).Usd);
    }

    [Fact]
    public void Price_ExactDecimal_NoFloatingPointOrRounding()
    {
        // gpt-5-nano: 1 × 0.05 + 1 × 0.005 (cached) + 1 × 0.40 = 0.455 → / 1M = $0.000000455 exactly.
        var cost = Pricer().Price(new PricingRequest(Provider("gpt-5-nano"), null, new RunUsage(2, 1, 1, 0)));

        Assert.Equal(0.000000455m, cost.Usd);
    }

    [Fact]
    public void Price_UnknownModel_LogsOnceNamingModelAndProvider()
    {
        var services = new ServiceCollection().AddFakeLogging();
        services.AddStewardCosts(new ConfigurationBuilder().Build().GetSection("Steward"));
        using var provider = services.BuildServiceProvider();
        var pricer = provider.GetRequiredService<IRunPricer>();

        for (var i = 0; i < 3; i++)
        {
            pricer.Price(new PricingRequest(Provider("mystery-model-9000", name: "lab"), null, new RunUsage(1, 0, 1, 0)));
        }

        var log = Assert.Single(provider.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 1601);
        Assert.Contains("mystery-model-9000", log.Message, StringComparison.Ordinal);
        Assert.Contains("lab", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Price_NegativeTokens_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Pricer().Price(new PricingRequest(Provider("gpt-4o"), null, new RunUsage(-1, 0, 0, 0))));
    }
}
