using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Steward.Providers;

namespace Steward.Bench;

/// <summary>A model that answers at once, in process, so the benchmark measures Steward's own pipeline.</summary>
internal sealed class InstantModel(string kind, GovernanceTimer? timer = null) : IChatClientProvider, IChatClient
{
    private static readonly UsageDetails Usage = new() { InputTokenCount = 40, CachedInputTokenCount = 10, OutputTokenCount = 12, TotalTokenCount = 52 };

    public string Kind { get; } = kind;

    public IChatClient CreateClient(ResolvedProvider provider) => this;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(u);
        }

        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        var call = timer is null ? null : GovernanceTimer.Enter();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "An instant answer.") { ModelId = "gpt-4o-mini" };
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage)]) { ModelId = "gpt-4o-mini", FinishReason = ChatFinishReason.Stop };
        call?.Leave();
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
