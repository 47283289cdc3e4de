namespace Steward.Providers;

/// <summary>How Steward counts a prompt for a provider kind before sending it.</summary>
public enum PromptTokenizer
{
    /// <summary>A conservative estimate (3 characters a token): the kind's models are unknown to Steward.</summary>
    Estimate,

    /// <summary>OpenAI's tokenizers, chosen by the model name (o200k, cl100k); an unknown name is estimated.</summary>
    OpenAIByModelName,

    /// <summary>OpenAI's tokenizers by model name; a free-form name (an Azure deployment) counts with o200k.</summary>
    OpenAIElseO200k,

    /// <summary>The model's own tokenizer, offered by the client itself (the embedded engine).</summary>
    ModelsOwn,
}

/// <summary>
/// Everything Steward knows about one provider kind apart from building its client: whether it is picked as the default,
/// its default model and endpoint, what its settings need, how its prompts are counted, whether its runs cost money,
/// how its SDK's failures read and whether it hosts web search. A provider type exposes it
/// (<see cref="IChatClientProvider.Info"/>), and the catalog, the error layer, the pricer and the token counter ask it,
/// so a new kind is one class and one registration. Immutable; thread-safe.
/// </summary>
public sealed class ProviderKindInfo
{
    /// <summary>The kind, e.g. <c>openai</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>
    /// Where the kind stands when Steward picks a default provider (lower first) among the configured ones;
    /// <see langword="null"/> when a provider of this kind is never picked by default.
    /// </summary>
    public int? DefaultOrder { get; init; }

    /// <summary>The model used when neither the preset nor the provider names one; <see langword="null"/>: a model is required.</summary>
    public string? DefaultModel { get; init; }

    /// <summary>How to name a model, finishing the sentence "Set Steward:Providers:NAME:Model", e.g. " (the deployment name) or AZURE_OPENAI_DEPLOYMENT.".</summary>
    public string ModelAdvice { get; init; } = ", or name a model in the preset.";

    /// <summary>The endpoint used when none is configured, shown in "cannot be reached" messages.</summary>
    public string? DefaultEndpoint { get; init; }

    /// <summary>Problems with a provider's kind-specific settings, each naming the key to set: (provider name, key prefix, options).</summary>
    public Func<string, string, ProviderOptions, IEnumerable<string>>? Validate { get; init; }

    /// <summary>The kind's models run on the user's own hardware: their runs cost 0 and say "self-hosted", whatever the model is called.</summary>
    public bool SelfHosted { get; init; }

    /// <summary>How a prompt is counted before it is sent.</summary>
    public PromptTokenizer Tokenizer { get; init; } = PromptTokenizer.Estimate;

    /// <summary>
    /// Reads a failure the kind's SDK reports in its own way (not as an HTTP status): a failure kind and a short detail,
    /// or <see langword="null"/> to leave the exception to the common rules.
    /// </summary>
    public Func<Exception, (ProviderFailureKind Kind, string Detail)?>? Classify { get; init; }

    /// <summary>Whether a provider so configured runs the provider's own (hosted) web search.</summary>
    public Func<ProviderOptions, bool> HostsWebSearch { get; init; } = static _ => false;

    /// <summary>
    /// Tools live on the provider's side (a Foundry agent's definition): the web search is always the hosted one, and
    /// Steward's own function tools (corpus search, MCP servers) cannot be added to a call.
    /// </summary>
    public bool HostedToolsOnly { get; init; }

    /// <summary>
    /// The kind's client is told, on an agent's model calls, which preset and session the call is for (a Foundry agent is
    /// the preset, its conversation the session's). Other kinds never see it.
    /// </summary>
    public bool ReceivesAgentContext { get; init; }

    /// <summary>What a kind Steward was not told about gets: no defaults, an estimated prompt, priced from the catalog.</summary>
    public static ProviderKindInfo Unknown(string kind) => new() { Kind = kind };
}
