using Microsoft.Extensions.AI;
using Steward.Providers;

namespace Steward.Calls;

/// <summary>
/// The preset and session an agent's model call is made for, handed to the clients of providers that keep agents and
/// conversations on their side (<see cref="ProviderKindInfo.ReceivesAgentContext"/>); other providers never see it.
/// </summary>
internal sealed record AgentCallContext(Agents.AgentPreset Preset, Guid? SessionId)
{
    internal const string OptionsKey = "steward.agent_context";

    public static AgentCallContext? From(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(OptionsKey, out var value) ? value as AgentCallContext : null;
}

/// <summary>
/// One model call as it passes the governed-call layers: the budget layer creates it (with the output cap it sends) and
/// hands it down in the call's options; the recording layer fills in <see cref="Result"/>, which the budget layer then
/// settles. The prompt is counted at most once, when a layer first needs it.
/// </summary>
internal sealed class GovernedCall
{
    internal const string OptionsKey = "steward.call";

    private readonly Lazy<long> _promptTokens;

    public GovernedCall(ModelCallScope? scope, ResolvedProvider provider, int? maxOutputTokens, Func<long> countPrompt)
    {
        Scope = scope;
        Provider = provider;
        MaxOutputTokens = maxOutputTokens;
        _promptTokens = new Lazy<long>(countPrompt);
    }

    /// <summary>Whom the call is made for; <see langword="null"/> for a call outside any scope.</summary>
    public ModelCallScope? Scope { get; }

    public ResolvedProvider Provider { get; }

    /// <summary>The output cap sent with the call.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>The prompt's tokens as the model's tokenizer counts them.</summary>
    public long PromptTokens => _promptTokens.Value;

    /// <summary>What the call used, cost and how it ended, once it ended.</summary>
    public ModelCall? Result { get; set; }

    public static GovernedCall? From(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(OptionsKey, out var value) ? value as GovernedCall : null;

    /// <summary>A counter for a call's prompt: the embedded engine renders and tokenizes it exactly; others use <see cref="Budgets.TokenEstimator"/>.</summary>
    public static Func<long> PromptCounter(IChatClient client, ResolvedProvider provider, IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var local = client.GetService<LocalModels.LocalChatClient>();
        return local is not null
            ? () => local.CountPromptTokens(messages, options)
            : () => Budgets.TokenEstimator.CountPrompt(provider, options?.Instructions, messages, options?.Tools);
    }

    /// <summary>
    /// Options to send down: a copy with <paramref name="call"/> attached, the scope removed (it must not reach the
    /// provider, nor the response cache's key) and the output cap set.
    /// </summary>
    public static ChatOptions Attach(ChatOptions? options, GovernedCall? call, int? maxOutputTokens, AgentCallContext? context = null)
    {
        var copy = options?.Clone() ?? new ChatOptions();
        copy.MaxOutputTokens = maxOutputTokens;
        var properties = copy.AdditionalProperties is { } existing ? new AdditionalPropertiesDictionary(existing) : [];
        properties.Remove(ModelCallScope.OptionsKey);
        properties.Remove(OptionsKey);
        if (call is not null)
        {
            properties[OptionsKey] = call;
        }

        if (context is not null)
        {
            properties[AgentCallContext.OptionsKey] = context;
        }

        copy.AdditionalProperties = properties.Count == 0 ? null : properties;
        return copy;
    }
}
