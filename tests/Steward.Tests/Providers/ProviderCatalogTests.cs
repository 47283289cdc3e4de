using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Steward.Providers;

namespace Steward.Tests.Providers;

public sealed class ProviderCatalogTests
{
    private static ProviderCatalog FromEnvironment(Dictionary<string, string?> env)
    {
        var configuration = new ConfigurationBuilder().AddStewardEnvironmentShortcuts(env).Build();
        var options = new ProvidersOptions();
        configuration.GetSection("Steward").Bind(options);
        return new ProviderCatalog(Options.Create(options));
    }

    [Fact]
    public void Resolve_NothingConfigured_DefaultsToTheEmbeddedEngine()
    {
        var catalog = FromEnvironment([]);

        var resolved = catalog.Resolve(null, null);

        Assert.Equal(ProviderKinds.Local, resolved.Kind);
    }

    [Fact]
    public void EnvironmentShortcuts_OpenAIKey_ConfiguresOpenAIAsDefault()
    {
        var catalog = FromEnvironment(new() { ["OPENAI_API_KEY"] = "sk-x", ["OPENAI_BASE_URL"] = "http://127.0.0.1:1234/v1" });

        var resolved = catalog.Resolve(null, null);

        Assert.Equal(("openai", ProviderKinds.OpenAI, "gpt-4o-mini"), (resolved.Name, resolved.Kind, resolved.Model));
        Assert.Equal("http://127.0.0.1:1234/v1", resolved.Options.Endpoint);
    }

    [Fact]
    public void EnvironmentShortcuts_Azure_WinsOverOpenAIAndUsesTheDeployment()
    {
        var catalog = FromEnvironment(new()
        {
            ["OPENAI_API_KEY"] = "sk-x",
            ["AZURE_OPENAI_ENDPOINT"] = "https://contoso.openai.azure.com/",
            ["AZURE_OPENAI_DEPLOYMENT"] = "gpt-4o-prod",
        });

        var resolved = catalog.Resolve(null, null);

        Assert.Equal(("azure-openai", "gpt-4o-prod"), (resolved.Kind, resolved.Model));
        Assert.Null(resolved.Options.ApiKey); // no key: Entra ID
    }

    [Fact]
    public void EnvironmentShortcuts_OllamaHostWithoutScheme_GetsHttp()
    {
        var catalog = FromEnvironment(new() { ["OLLAMA_HOST"] = "127.0.0.1:11434", ["OLLAMA_MODEL"] = "qwen2.5" });

        var resolved = catalog.Resolve("ollama", null);

        Assert.Equal("http://127.0.0.1:11434", resolved.Options.Endpoint);
        Assert.Equal("qwen2.5", resolved.Model);
    }

    [Fact]
    public void EnvironmentShortcuts_StewardModelAndDb_AreMapped()
    {
        var map = EnvironmentShortcuts.Map(new Dictionary<string, string?> { ["STEWARD_MODEL"] = "/models/x.gguf", ["STEWARD_DB"] = "/data/s.db" });

        Assert.Equal("/models/x.gguf", map["Steward:Providers:local:Model"]);
        Assert.Equal("/data/s.db", map["Steward:Storage:Database"]);
    }

    [Fact]
    public void Resolve_PresetModel_OverridesProviderDefault()
    {
        var catalog = FromEnvironment(new() { ["OPENAI_API_KEY"] = "sk-x" });

        Assert.Equal("gpt-4.1", catalog.Resolve("openai", "gpt-4.1").Model);
    }

    [Fact]
    public void Resolve_UnknownProvider_NamesItAndTheConfiguredOnes()
    {
        var catalog = FromEnvironment([]);

        var ex = Assert.Throws<ProviderNotConfiguredException>(() => catalog.Resolve("anthropic", null));

        Assert.Contains("'anthropic'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("local", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_ReportsEveryProblemTogether()
    {
        var options = new ProvidersOptions { DefaultProvider = "missing" };
        options.Providers["a"] = new ProviderOptions { Kind = "azure-openai" };
        options.Providers["b"] = new ProviderOptions { Kind = "openai", Endpoint = "not a url", ApiKey = "k" };
        options.Providers["c"] = new ProviderOptions { Kind = "bedrock" };

        var result = new ProvidersOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToArray();
        Assert.Contains(failures, f => f.Contains("AZURE_OPENAI_ENDPOINT", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Steward:Providers:b:Endpoint", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'bedrock'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("DefaultProvider 'missing'", StringComparison.Ordinal));
    }
}
