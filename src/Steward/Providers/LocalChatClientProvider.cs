using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>The embedded GGUF engine. Until it lands, choosing it says so plainly instead of failing obscurely.</summary>
internal sealed class LocalChatClientProvider : IChatClientProvider
{
    public string Kind => ProviderKinds.Local;

    public IChatClient CreateClient(ResolvedProvider provider) =>
        throw new ProviderNotConfiguredException(
            "The embedded model engine ('local' provider) is not available yet. Configure another provider: " +
            "OPENAI_API_KEY for OpenAI, AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT for Azure OpenAI, OLLAMA_HOST for Ollama, " +
            "or OPENAI_BASE_URL for an OpenAI-compatible server.");
}
