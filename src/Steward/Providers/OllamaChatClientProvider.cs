using Microsoft.Extensions.AI;
using OllamaSharp;

namespace Steward.Providers;

/// <summary>Ollama's native <c>/api/chat</c> through OllamaSharp.</summary>
internal sealed class OllamaChatClientProvider : IChatClientProvider
{
    internal const string DefaultEndpoint = "http://localhost:11434";

    public string Kind => ProviderKinds.Ollama;

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        var endpoint = new Uri(provider.Options.Endpoint is { Length: > 0 } e ? e : DefaultEndpoint);
#pragma warning disable CA2000 // The HttpClient is owned by the OllamaApiClient, which the agent registry disposes.
        var http = new HttpClient { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(provider.Options.TimeoutSeconds) };
#pragma warning restore CA2000
        return new OllamaApiClient(http, provider.Model);
    }
}
