using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Providers;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>A provider kind is one class and one registration: everything else asks its <see cref="ProviderKindInfo"/>.</summary>
public sealed class ProviderKindInfoTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A kind Steward has never heard of, described only by its own type.</summary>
    private sealed class AcmeProvider : IChatClientProvider
    {
        public string Kind => "acme";

        public ProviderKindInfo Info { get; } = new()
        {
            Kind = "acme",
            DefaultOrder = 1,
            DefaultModel = "acme-large",
            DefaultEndpoint = "https://models.acme.example",
            SelfHosted = true,
            Tokenizer = PromptTokenizer.OpenAIElseO200k,
            Validate = static (name, prefix, options) => options.ApiKey is null ? [$"Provider '{name}' (acme) needs {prefix}:ApiKey."] : [],
        };

        public IChatClient CreateClient(ResolvedProvider provider) => new InstantChatClientProvider("acme").CreateClient(provider);
    }

    [Fact]
    public void Catalog_RegisteredKind_DefaultsValidationAndTokenizerComeFromItsInfo()
    {
        var options = new ProvidersOptions();
        options.Providers["mine"] = new ProviderOptions { Kind = "acme", ApiKey = "k" };
        var catalog = new ProviderCatalog(Options.Create(options), [new AcmeProvider()]);

        var resolved = catalog.Resolve(null, null);

        Assert.Equal(("mine", "acme", "acme-large"), (resolved.Name, resolved.Kind, resolved.Model)); // picked first by its DefaultOrder
        Assert.Equal("o200k tokenizer", TokenEstimator.MethodFor(resolved));
    }

    [Fact]
    public void Validator_RegisteredKindMissingItsSetting_ListsTheKindsOwnProblem()
    {
        var options = new ProvidersOptions();
        options.Providers["mine"] = new ProviderOptions { Kind = "acme" };
        options.Providers["other"] = new ProviderOptions { Kind = "nope" };

        var result = new ProvidersOptionsValidator([new AcmeProvider()]).Validate(null, options);

        Assert.Contains("Provider 'mine' (acme) needs Steward:Providers:mine:ApiKey.", result.Failures!);
        Assert.Contains(result.Failures!, f => f.StartsWith("Steward:Providers:other:Kind 'nope' is not a provider kind; use one of ", StringComparison.Ordinal) && f.Contains("acme", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Engine_OneRegistration_RunsAndPricesAsTheKindSays()
    {
        await using var server = await FakeModelServer.StartAsync();
        await using var engine = await TestEngine.StartAsync(server.OpenAIUrl, s =>
        {
            s["Steward:DefaultProvider"] = "mine";
            s["Steward:Providers:mine:Kind"] = "acme";
            s["Steward:Providers:mine:ApiKey"] = "k";
        }, services => services.AddSingleton<IChatClientProvider, AcmeProvider>());

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal(("mine", "acme-large"), (response.Provider, response.Model));
        Assert.True(response.Cost.SelfHosted);
        Assert.True(engine.Get<IRunPricer>().PriceWorstCase(engine.Get<ProviderCatalog>().Resolve(null, null), 1000, 100).SelfHosted);
    }
}
