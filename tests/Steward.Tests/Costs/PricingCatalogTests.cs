using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Costs;
using static Steward.Tests.Costs.PricingTestHelpers;

namespace Steward.Tests.Costs;

public sealed class PricingCatalogTests
{
    private static readonly string[] ShippedModels =
    [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano",
        "o1", "o1-mini", "o1-pro", "o3", "o3-mini", "o3-pro", "o4-mini", "gpt-4-turbo", "gpt-4", "gpt-3.5-turbo",
    ];

    [Fact]
    public void Constructor_ShippedCatalog_LoadsEveryEntryValid()
    {
        var catalog = new PricingCatalog(new PricingOptions());

        Assert.Equal(PricesFile.EmbeddedDisplayName, catalog.Source);
        foreach (var model in catalog.Models)
        {
            Assert.NotNull(model.EffectiveDate);
            if (model.SelfHosted)
            {
                Assert.Equal(PriceRates.Free, model.Rates);
                continue;
            }

            Assert.True(model.Rates.Input > 0, model.Model);
            Assert.True(model.Rates.Output >= model.Rates.Input, model.Model);
            Assert.True(model.Rates.EffectiveCachedInput <= model.Rates.Input, model.Model);
        }

        foreach (var id in ShippedModels)
        {
            var price = catalog.Find(id);
            Assert.True(price is { SelfHosted: false }, id);
            Assert.Equal(id, price!.Model, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Constructor_ShippedFileOnDisk_SameAsEmbedded()
    {
        // The repository's pricing/prices.json is what is embedded: both parse to the same models.
        var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(SourceFile())!, "..", "..", "..", "pricing", "prices.json"));
        Assert.SkipUnless(File.Exists(path), "The repository's pricing folder is not reachable from the test.");

        var fromDisk = PricesFile.LoadFile(path);
        var embedded = PricesFile.LoadEmbedded();

        Assert.Equal(embedded.Models.Select(m => (m.Model, m.Rates)), fromDisk.Models.Select(m => (m.Model, m.Rates)));
        Assert.Equal(embedded.Patterns, fromDisk.Patterns);
    }

    private static string SourceFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    [Theory]
    [InlineData("GPT-4O", "gpt-4o")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("o4-mini-2025-04-16", "o4-mini")]
    [InlineData("llama3.2", "open-weights")]
    [InlineData("TinyLlama-1.1B-Chat", "open-weights")]
    [InlineData("deepseek-r1:7b", "open-weights")]
    [InlineData("phi-4", "open-weights")]
    [InlineData("gemma3:4b", "open-weights")]
    [InlineData("smollm2-360m", "open-weights")]
    public void Find_Name_ResolvesToModel(string name, string expected)
    {
        Assert.Equal(expected, new PricingCatalog(new PricingOptions()).Find(name)?.Model);
    }

    [Fact]
    public void Find_ResponseModelUnknown_FallsBackToRequestedModel()
    {
        var catalog = new PricingCatalog(new PricingOptions());

        Assert.Equal("gpt-4.1", catalog.Find("some-proxy-renamed-model", "gpt-4.1")?.Model);
        Assert.Null(catalog.Find(null, "nothing-like-it"));
    }

    [Fact]
    public void Constructor_BrokenReplacementFile_NamesFileAndEveryModelAtFault()
    {
        var path = WriteTempFile("""
            {
              "schema_version": 1,
              "models": [
                { "model": "good-model", "input": 1, "output": 2, "effective_date": "2026-01-01" },
                { "model": "no-output-model", "input": 1, "effective_date": "2026-01-01" },
                { "model": "negative-model", "input": -1, "output": 2, "effective_date": "2026-01-01" },
                { "model": "undated-model", "input": 1, "output": 2 },
                { "model": "tiered-model", "input": 1, "output": 2, "effective_date": "2026-01-01",
                  "tiers": [ { "above_input_tokens": 0, "input": 2 } ] },
                { "model": "good-model", "input": 1, "output": 2, "effective_date": "2026-01-01" }
              ],
              "patterns": [ { "pattern": "ghost-*", "model": "ghost-model" } ]
            }
            """);

        var ex = Assert.Throws<PricingCatalogException>(() => new PricingCatalog(new PricingOptions { File = path }));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'no-output-model': 'output' is required", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'negative-model': 'input' must not be negative", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'undated-model': 'effective_date' is required", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'tiered-model' tier above 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'good-model': listed more than once", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'ghost-model' is not listed", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"schema_version\": 1, \"models\": [ { \"model\": \"m\", \"input\": \"cheap\" } ] }", "$.models[0].input")]
    [InlineData("{ \"schema_version\": 1, \"models\": [ { \"model\": \"m\", \"inptu\": 1 } ] }", "inptu")]
    [InlineData("{ \"schema_version\": 2, \"models\": [] }", "schema_version must be 1")]
    [InlineData("not json", "is not valid")]
    public void Constructor_MalformedFile_NamesFileAndWhere(string json, string expected)
    {
        var path = WriteTempFile(json);

        var ex = Assert.Throws<PricingCatalogException>(() => new PricingCatalog(new PricingOptions { File = path }));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_ConfiguredPatternOrAliasToUnpricedModel_ListsEveryProblem()
    {
        var options = new PricingOptions();
        options.Patterns.Add(new PricePatternOptions { Pattern = "corp-*", Model = "nowhere" });
        options.Aliases["prod-deployment"] = "also-nowhere";
        options.Models["half-priced"] = new ModelPriceOptions { Input = 1 };
        var tiered = new ModelPriceOptions { Input = 1, Output = 2 };
        tiered.Tiers.Add(new PriceTierOptions { AboveInputTokens = 1000, Input = 2, Output = 3 });
        tiered.Tiers.Add(new PriceTierOptions { AboveInputTokens = 500, Input = 3, Output = 4 });
        options.Models["badly-tiered"] = tiered;

        var ex = Assert.Throws<PricingCatalogException>(() => new PricingCatalog(options));

        Assert.Contains("'corp-*' names model 'nowhere'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Steward:Pricing:Aliases:prod-deployment: model 'also-nowhere'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'half-priced' (Steward:Pricing:Models): 'output' is required", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'badly-tiered' tier above 500: 'above_input_tokens' is required, positive, and must grow", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_InvalidConfiguration_ValidatorListsEveryProblem()
    {
        using var services = Services(new()
        {
            ["Steward:Pricing:File"] = "/no/such/prices.json",
            ["Steward:Pricing:Models:cheap:Input"] = "-1",
            ["Steward:Pricing:Models:cheap:Output"] = "1",
            ["Steward:Pricing:Patterns:0:Pattern"] = "x-*",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<PricingOptions>>().Value);

        Assert.Contains(ex.Failures, f => f.Contains("/no/such/prices.json", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Models:cheap:Input must not be negative", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Patterns:0:Model is required", StringComparison.Ordinal));
    }

    [Fact]
    public void AddStewardCosts_Configuration_BindsModelsPatternsAndAliases()
    {
        using var services = Services(new()
        {
            ["Steward:Pricing:Models:corp-llm:Input"] = "0.5",
            ["Steward:Pricing:Models:corp-llm:CachedInput"] = "0.1",
            ["Steward:Pricing:Models:corp-llm:Output"] = "1.5",
            ["Steward:Pricing:Patterns:0:Pattern"] = "corp-llm-v*",
            ["Steward:Pricing:Patterns:0:Model"] = "corp-llm",
            ["Steward:Pricing:Aliases:my-deployment"] = "corp-llm-v2",
        });

        var catalog = services.GetRequiredService<PricingCatalog>();

        Assert.Equal(new PriceRates(0.5m, 0.1m, 1.5m), catalog.Find("corp-llm-v7")?.Rates);
        Assert.Equal("corp-llm", catalog.Find("my-deployment")?.Model);
        Assert.Equal("configuration", catalog.Find("corp-llm")?.Source);
        Assert.IsType<CatalogRunPricer>(services.GetRequiredService<IRunPricer>());
    }

    [Fact]
    public void Options_BrokenPricesFile_FailsValidationAtStartNamingFileAndModel()
    {
        var path = WriteTempFile("""{ "schema_version": 1, "models": [ { "model": "half-model", "input": 1, "effective_date": "2026-01-01" } ] }""");
        using var services = Services(new() { ["Steward:Pricing:File"] = path });

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<PricingOptions>>().Value);

        var failure = Assert.Single(ex.Failures);
        Assert.Contains(path, failure, StringComparison.Ordinal);
        Assert.Contains("'half-model': 'output' is required", failure, StringComparison.Ordinal);
    }
}
