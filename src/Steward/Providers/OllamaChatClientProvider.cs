using Microsoft.Extensions.AI;
using OllamaSharp;

namespace Steward.Providers;

/// <summary>Ollama's native <c>/api/chat</c> through OllamaSharp.</summary>
internal sealed class OllamaChatClientProvider : IChatClientProvider
{
    internal const string DefaultEndpoint = "http://localhost:11434";

    internal static ProviderKindInfo Description { get; } = new()
    {
        Kind = ProviderKinds.Ollama,
        DefaultOrder = 30,
        ModelAdvice = " (e.g. llama3.2) or OLLAMA_MODEL.",
        DefaultEndpoint = DefaultEndpoint,
        SelfHosted = true,
        Classify = static ex => ex.GetType().Namespace?.StartsWith("OllamaSharp", StringComparison.Ordinal) == true &&
            ex.Message.Contains("not found", StringComparison.OrdinalIgnoreCase)
            // OllamaSharp reports some failures (e.g. an unknown model) as its own exceptions carrying the server's text.
            ? (ProviderFailureKind.NotFound, ProviderErrorChatClient.FirstLine(ex.Message))
            : null,
    };

    public string Kind => ProviderKinds.Ollama;

    public ProviderKindInfo Info => Description;

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        var endpoint = new Uri(provider.Options.Endpoint is { Length: > 0 } e ? e : DefaultEndpoint);
#pragma warning disable CA2000 // The HttpClient is owned by the OllamaApiClient, which the agent registry disposes.
        var http = new HttpClient { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(provider.Options.TimeoutSeconds) };
#pragma warning restore CA2000
        return new OllamaApiClient(http, provider.Model);
    }
}
