using Microsoft.Extensions.AI;

namespace Steward.Calls;

/// <summary>Makes every call through a client part of one <see cref="ModelCallScope"/> (for callers that pass their own options, such as judges).</summary>
internal sealed class ScopedChatClient(IChatClient inner, ModelCallScope scope) : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        inner.GetResponseAsync(messages, scope.ApplyTo(options), cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        inner.GetStreamingResponseAsync(messages, scope.ApplyTo(options), cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null) => inner.GetService(serviceType, serviceKey);

    // A view: disposing it must not dispose the shared client beneath it.
    public void Dispose()
    {
    }
}

/// <summary>Binds a chat client to a <see cref="ModelCallScope"/>.</summary>
public static class ModelCallScopeChatClientExtensions
{
    /// <summary>
    /// A view of <paramref name="client"/> whose every call belongs to <paramref name="scope"/> (budgets, records). The
    /// client must be a governed one (from <see cref="Providers.ChatClientFactory"/>); disposing the view leaves it open.
    /// </summary>
    public static IChatClient WithCallScope(this IChatClient client, ModelCallScope scope)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(scope);
        return new ScopedChatClient(client, scope);
    }
}
