using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.Identity;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Steward.Providers;

/// <summary>
/// Azure AI Foundry Agent Service (<c>foundry-agent</c>): each preset runs as a Foundry agent of the same name in the
/// project at <c>Endpoint</c> (or <c>AZURE_AI_PROJECT_ENDPOINT</c>), on the project's model deployment <c>Model</c>,
/// authenticated with the project's API key or, without one, <see cref="DefaultAzureCredential"/>.
/// </summary>
internal sealed class FoundryAgentChatClientProvider(
    Foundry.FoundryAgentVersions versions, Sessions.SessionConversationStore conversations, TimeProvider time) : IChatClientProvider
{
    internal static ProviderKindInfo Description { get; } = new()
    {
        Kind = ProviderKinds.FoundryAgent,
        // A configured Foundry project is the clearest statement of where presets should run.
        DefaultOrder = 5,
        ModelAdvice = " (a model deployment of the project, e.g. gpt-4.1-mini).",
        Validate = static (name, prefix, options) => string.IsNullOrWhiteSpace(options.Endpoint)
            ? [$"Provider '{name}' (foundry-agent) has no project endpoint: set AZURE_AI_PROJECT_ENDPOINT or {prefix}:Endpoint to https://<resource>.services.ai.azure.com/api/projects/<project>."]
            : [],
        // Foundry deployments have free-form names; newer models are o200k, which also errs high on older ones.
        Tokenizer = PromptTokenizer.OpenAIElseO200k,
        HostsWebSearch = static _ => true,
        HostedToolsOnly = true,
        ReceivesAgentContext = true,
        Classify = Foundry.FoundryErrors.Classify,
    };

    public string Kind => ProviderKinds.FoundryAgent;

    public ProviderKindInfo Info => Description;

    public IChatClient CreateClient(ResolvedProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var (http, project) = Connect(provider.Options, time);
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(project.Project, "openai/v1/"),
            Transport = new HttpClientPipelineTransport(http),
            NetworkTimeout = TimeSpan.FromSeconds(provider.Options.TimeoutSeconds),
            RetryPolicy = new ClientRetryPolicy(provider.Options.MaxRetries),
        };
        // The SDK insists on a credential; FoundryAuthHandler replaces its header with the project's own.
        var openAI = new OpenAIClient(new ApiKeyCredential("foundry"), clientOptions);
#pragma warning disable OPENAI001 // The Responses API is marked experimental in the SDK; it is what Foundry agents run on.
        var responses = openAI.GetResponsesClient().AsIChatClient(provider.Model);
#pragma warning restore OPENAI001
        return new Foundry.FoundryAgentChatClient(responses, project, versions, conversations, provider, http);
    }

    /// <summary>An authenticated HTTP client and the agents API of the provider's project. The caller owns the client.</summary>
    internal static (HttpClient Http, Foundry.FoundryProjectClient Project) Connect(ProviderOptions options, TimeProvider time)
    {
        var credential = options.ApiKey is { Length: > 0 } ? null : new DefaultAzureCredential();
#pragma warning disable CA2000 // The handler chain is owned by the HttpClient, which the caller disposes.
        var http = new HttpClient(new Foundry.FoundryAuthHandler(options.ApiKey, credential, time, new SocketsHttpHandler()))
        {
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
        };
#pragma warning restore CA2000
        return (http, new Foundry.FoundryProjectClient(http, new Uri(options.Endpoint!)));
    }
}
