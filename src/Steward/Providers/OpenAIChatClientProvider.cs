using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Steward.Providers;

/// <summary>OpenAI (chat completions or the Responses API) and any OpenAI-compatible server.</summary>
internal sealed class OpenAIChatClientProvider(string kind) : IChatClientProvider
{
    public string Kind { get; } = kind;

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
