using System.ClientModel;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Responses;
using Steward.Calls;

namespace Steward.Providers.Foundry;

/// <summary>
/// Runs an agent's turns on its Foundry agent: the version matching the preset (found or created once, see
/// <see cref="FoundryAgentVersions"/>) is named by <c>agent_reference</c> on a Responses request, inside the Foundry
/// conversation of the Steward session (created on the session's first turn and stored with it, so a continued session
/// sends only its new message). The agent holds the instructions and tools, so the call's own are not sent; the output
/// cap is. A version deleted elsewhere fails the call with the provider's 404 message and is looked up again by the
/// next. Everything else (streaming, usage, hosted tool calls, <c>url_citation</c> annotations) is the Responses
/// client's, under Steward's governed layers like any provider. Calls that are not an agent's turn (a judge, the gateway)
/// go to the project's model deployment directly.
/// </summary>
internal sealed class FoundryAgentChatClient(
    IChatClient responses, FoundryProjectClient project, FoundryAgentVersions versions, Sessions.SessionConversationStore conversations, ResolvedProvider provider,
    IDisposable connection)
    : DelegatingChatClient(responses)
{
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            connection.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (input, agentOptions, definition) = await PrepareAsync(messages, options, cancellationToken).ConfigureAwait(false);
        try
        {
            return await base.GetResponseAsync(input, agentOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (ClientResultException ex) when (ex.Status == 404 && definition is not null)
        {
            versions.Forget(project, definition);
            throw;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (input, agentOptions, definition) = await PrepareAsync(messages, options, cancellationToken).ConfigureAwait(false);
        await using var updates = base.GetStreamingResponseAsync(input, agentOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await updates.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }
            }
            catch (ClientResultException ex) when (ex.Status == 404 && definition is not null)
            {
                // The agent version was deleted elsewhere (the portal, another cleanup): the next run looks it up again.
                versions.Forget(project, definition);
                throw;
            }

            yield return updates.Current;
        }
    }

    public override object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(FoundryAgentChatClient) ? this : base.GetService(serviceType, serviceKey);

    private async Task<(IEnumerable<ChatMessage> Input, ChatOptions? Options, FoundryAgentDefinition? Definition)> PrepareAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (AgentCallContext.From(options) is not { Preset: var preset } scope)
        {
            return (messages, options, null);
        }

        var definition = FoundryAgentDefinition.For(preset, provider);
        var version = await versions.EnsureAsync(project, definition, provider.Options, cancellationToken).ConfigureAwait(false);

        var input = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        string? conversation = null;
        if (scope.SessionId is { } sessionId)
        {
            conversation = await conversations.GetAsync(sessionId, cancellationToken).ConfigureAwait(false);
            if (conversation is null)
            {
                // The new conversation gets the whole history: a session begun elsewhere (or before Foundry) continues there.
                var created = await project.CreateConversationAsync(
                    new Dictionary<string, string> { ["steward_session"] = sessionId.ToString(), ["steward_preset"] = preset.Name }, cancellationToken).ConfigureAwait(false);
                conversation = await conversations.SetIfUnsetAsync(sessionId, created, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // The conversation already holds every earlier turn: only what follows the last answer is new.
                var lastAnswer = input.Select((m, i) => (m, i)).LastOrDefault(p => p.m.Role == ChatRole.Assistant, (null!, -1)).Item2;
                input = [.. input.Skip(lastAnswer + 1)];
            }
        }

        // Clone copies the properties: removing the context from the copy leaves the caller's options as they were.
        var agentOptions = options!.Clone();
        agentOptions.AdditionalProperties!.Remove(AgentCallContext.OptionsKey);
        agentOptions.Instructions = null;
        agentOptions.Tools = null;
        agentOptions.ToolMode = null;
        agentOptions.Temperature = null;
        agentOptions.ConversationId = conversation;
        var reference = BinaryData.FromObjectAsJson(new { type = "agent_reference", name = version.Name, version = version.Version });
        var inner = options.RawRepresentationFactory;
#pragma warning disable OPENAI001 // The Responses API's types are marked experimental in the SDK.
        agentOptions.RawRepresentationFactory = client =>
        {
            var request = inner?.Invoke(client) as CreateResponseOptions ?? new CreateResponseOptions();
#pragma warning disable SCME0001 // JsonPatch is marked experimental; it is how the SDK sends properties it has no member for.
            request.Patch.Set("$.agent_reference"u8, reference);
            // The agent names its model; a request naming one too would contradict it.
            request.Patch.Remove("$.model"u8);
#pragma warning restore SCME0001
            return request;
        };
#pragma warning restore OPENAI001
        return (input, agentOptions, definition);
    }
}
