using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.AI.OpenAI;
using Azure.Identity;
using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>Azure OpenAI with an API key, or Entra ID (<see cref="DefaultAzureCredential"/>) when no key is set.</summary>
internal sealed class AzureOpenAIChatClientProvider : IChatClientProvider
{
    internal static ProviderKindInfo Description { get; } = new()
    {
        Kind = ProviderKinds.AzureOpenAI,
        DefaultOrder = 10,
        ModelAdvice = " (the deployment name) or AZURE_OPENAI_DEPLOYMENT.",
        Validate = static (name, prefix, options) => string.IsNullOrWhiteSpace(options.Endpoint)
            ? [$"Provider '{name}' (azure-openai) has no endpoint: set AZURE_OPENAI_ENDPOINT or {prefix}:Endpoint."]
            : [],
        // Deployments have free-form names; newer models are o200k, which also errs high on older ones.
        Tokenizer = PromptTokenizer.OpenAIElseO200k,
    };

    public string Kind => ProviderKinds.AzureOpenAI;

    public ProviderKindInfo Info => Description;

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        var options = provider.Options;
        var endpoint = new Uri(options.Endpoint!);
        var clientOptions = new AzureOpenAIClientOptions
        {
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            RetryPolicy = new ClientRetryPolicy(options.MaxRetries),
        };
        var client = options.ApiKey is { Length: > 0 } key
            ? new AzureOpenAIClient(endpoint, new ApiKeyCredential(key), clientOptions)
            : new AzureOpenAIClient(endpoint, new DefaultAzureCredential(), clientOptions);
        return client.GetChatClient(provider.Model).AsIChatClient();
    }
}
