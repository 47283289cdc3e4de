using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Steward.Providers;

/// <summary>OpenAI (chat completions or the Responses API) and any OpenAI-compatible server.</summary>
internal sealed class OpenAIChatClientProvider(string kind) : IChatClientProvider
{
    internal const string DefaultModel = "gpt-4o-mini";

    internal static ProviderKindInfo OpenAIDescription { get; } = new()
    {
        Kind = ProviderKinds.OpenAI,
        DefaultOrder = 20,
        DefaultModel = DefaultModel,
        DefaultEndpoint = "https://api.openai.com/v1",
        Validate = static (name, prefix, options) => string.IsNullOrWhiteSpace(options.ApiKey)
            ? [$"Provider '{name}' (openai) has no API key: set OPENAI_API_KEY or {prefix}:ApiKey."]
            : options.Api is { Length: > 0 } api && api is not ("chat" or "responses")
            ? [$"{prefix}:Api '{api}' must be 'chat' or 'responses'."]
            : [],
        Tokenizer = PromptTokenizer.OpenAIByModelName,
        HostsWebSearch = UsesResponses,
    };

    internal static ProviderKindInfo CompatibleDescription { get; } = new()
    {
        Kind = ProviderKinds.OpenAICompatible,
        DefaultOrder = 40,
        Validate = static (name, prefix, options) => string.IsNullOrWhiteSpace(options.Endpoint)
            ? [$"Provider '{name}' (openai-compatible) has no endpoint: set {prefix}:Endpoint to the server's /v1 URL."]
            : [],
        HostsWebSearch = UsesResponses,
    };

    public string Kind { get; } = kind;

    public ProviderKindInfo Info => string.Equals(Kind, ProviderKinds.OpenAI, StringComparison.OrdinalIgnoreCase) ? OpenAIDescription : CompatibleDescription;

    // The hosted web_search tool exists on the Responses API only.
    private static bool UsesResponses(ProviderOptions options) => string.Equals(options.Api, "responses", StringComparison.OrdinalIgnoreCase);

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        var options = provider.Options;
        var clientOptions = new OpenAIClientOptions
        {
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            RetryPolicy = new ClientRetryPolicy(options.MaxRetries),
        };
        if (!string.IsNullOrWhiteSpace(options.Endpoint))
        {
            clientOptions.Endpoint = new Uri(options.Endpoint);
        }

        // Local OpenAI-compatible servers usually take no key, but the SDK insists on one; any value works there.
        var client = new OpenAIClient(new ApiKeyCredential(options.ApiKey is { Length: > 0 } key ? key : "no-key"), clientOptions);
        if (string.Equals(options.Api, "responses", StringComparison.OrdinalIgnoreCase))
        {
#pragma warning disable OPENAI001 // The Responses API is marked experimental in the SDK; it is OpenAI's recommended API.
            return client.GetResponsesClient().AsIChatClient(provider.Model);
#pragma warning restore OPENAI001
        }

        return client.GetChatClient(provider.Model).AsIChatClient();
    }
}
