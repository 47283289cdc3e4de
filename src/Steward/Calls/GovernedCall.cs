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
/// hands it to the recording layer beneath (directly, or in the call's options when another layer sits between); the
/// recording layer fills in <see cref="Result"/>, which the budget layer then settles. The prompt is counted at most
/// once, when a layer first needs it (the embedded engine renders and tokenizes it exactly; others use
/// <see cref="Budgets.TokenEstimator"/>).
/// </summary>
internal sealed class GovernedCall
{
    internal const string OptionsKey = "steward.call";

    // The prompt is counted on first need from what the call sends; no closure or Lazy per call (this runs on every call).
    private readonly LocalModels.LocalChatClient? _local;
    private readonly IReadOnlyList<ChatMessage> _messages;
    private readonly ChatOptions? _options;
    private long _promptTokens = -1;
    private Func<long>? _countPrompt;

    /// <summary>A call whose prompt is <paramref name="messages"/> with <paramref name="options"/>, counted by <paramref name="local"/> when the model is the embedded engine's.</summary>
    public GovernedCall(ModelCallScope? scope, ResolvedProvider provider, int? maxOutputTokens, LocalModels.LocalChatClient? local,
        IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        Scope = scope;
        Provider = provider;
        MaxOutputTokens = maxOutputTokens;
        _local = local;
        _messages = messages;
        _options = options;
    }

    /// <summary>The same call sent with another cap (fitted to the model's window), its prompt counted already.</summary>
    public GovernedCall WithCap(int maxOutputTokens) => new(Scope, Provider, maxOutputTokens, _local, _messages, _options) { _promptTokens = PromptTokens };

    /// <summary>Whom the call is made for; <see langword="null"/> for a call outside any scope.</summary>
    public ModelCallScope? Scope { get; }

    public ResolvedProvider Provider { get; }

    /// <summary>The output cap sent with the call.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>The prompt's tokens as the model's tokenizer counts them (counted once; the layers use it one after the other).</summary>
    public long PromptTokens
    {
        get
        {
            if (_promptTokens < 0)
            {
                _promptTokens = _local is not null
                    ? _local.CountPromptTokens(_messages, _options)
                    : Budgets.TokenEstimator.CountPrompt(Provider, _options?.Instructions, _messages, _options?.Tools);
            }

            return _promptTokens;
        }
    }

    /// <summary>Counts the prompt (once), for the budget gate.</summary>
    public Func<long> CountPrompt => _countPrompt ??= () => PromptTokens;

    /// <summary>What the call used, cost and how it ended, once it ended.</summary>
    public ModelCall? Result { get; set; }

    public static GovernedCall? From(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(OptionsKey, out var value) ? value as GovernedCall : null;

    /// <summary>
    /// Options to send down: a copy with <paramref name="call"/> attached, the scope removed (it must not reach the
    /// provider, nor the response cache's key) and the output cap set.
    /// </summary>
    public static ChatOptions Attach(ChatOptions? options, GovernedCall? call, int? maxOutputTokens, AgentCallContext? context = null)
    {
        var copy = options?.Clone() ?? new ChatOptions();
        copy.MaxOutputTokens = maxOutputTokens;
        // Clone copied the properties already: this copy's own to change.
        var properties = copy.AdditionalProperties ?? [];
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
