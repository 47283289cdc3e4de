namespace Steward.Providers;

/// <summary>One configured model provider, bound from <c>Steward:Providers:NAME</c>.</summary>
public sealed class ProviderOptions
{
    /// <summary>
    /// The kind: <c>openai</c>, <c>azure-openai</c>, <c>foundry-agent</c>, <c>ollama</c>, <c>openai-compatible</c> or <c>local</c>.
    /// Defaults to the provider's name when that is a kind.
    /// </summary>
    public string? Kind { get; set; }

    /// <summary>Base URL: Azure resource endpoint, Ollama host, or an OpenAI-compatible server's <c>/v1</c> URL.</summary>
    public string? Endpoint { get; set; }

    /// <summary>API key. Never logged, traced or exported. Azure OpenAI without a key uses Entra ID.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Default model (Azure: deployment name; local: a <c>.gguf</c> path or a known model name).</summary>
    public string? Model { get; set; }

    /// <summary>OpenAI only: <c>chat</c> (chat completions, the default) or <c>responses</c> (the Responses API).</summary>
    public string? Api { get; set; }

    /// <summary>
    /// <c>foundry-agent</c> only: the project connection id of a Grounding with Bing Search resource. When set, a preset's
    /// web search is the agent's <c>bing_grounding</c> tool; otherwise <c>web_search_preview</c>.
    /// </summary>
    public string? BingConnectionId { get; set; }

    /// <summary><c>foundry-agent</c> only: delete the agent versions this process created when it shuts down. Default off.</summary>
    public bool CleanupOnShutdown { get; set; }

    /// <summary>Seconds to wait for a response before the call fails as a timeout. Default 120.</summary>
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Retries of 429 and 5xx answers made by the provider's SDK. Default 2.</summary>
    public int MaxRetries { get; set; } = 2;
}

/// <summary>Which providers exist and which one is used when a preset names none. Bound from <c>Steward</c>.</summary>
public sealed class ProvidersOptions
{
    /// <summary>The provider used when a preset names none. Default: the first configured of
    /// azure-openai, openai, ollama, openai-compatible; else <c>local</c> (the embedded engine).</summary>
    public string? DefaultProvider { get; set; }

    /// <summary>Configured providers by name.</summary>
    public Dictionary<string, ProviderOptions> Providers { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>The names of the provider kinds built into Steward (each described by its provider type).</summary>
public static class ProviderKinds
{
    public const string OpenAI = "openai";
    public const string AzureOpenAI = "azure-openai";
    public const string Ollama = "ollama";
    public const string OpenAICompatible = "openai-compatible";
    public const string Local = "local";
    public const string FoundryAgent = "foundry-agent";

    /// <summary>Every built-in kind, in the order a default is chosen.</summary>
    public static IReadOnlyList<string> All => BuiltInProviders.Kinds;
}

/// <summary>A provider resolved for one agent: its name, kind, the model to use and its settings.</summary>
public sealed record ResolvedProvider(string Name, string Kind, string Model, ProviderOptions Options)
{
    /// <summary>What Steward knows about the kind. The catalog sets the registered provider's; by hand, the built-in kind's.</summary>
    public ProviderKindInfo Info { get; init; } = BuiltInProviders.Describe(Kind);
}
