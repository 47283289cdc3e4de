using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Steward.Providers;

namespace Steward.Tests.TestSupport;

/// <summary>
/// A test double for a provider kind: answers at once, in process, with the usage the test chooses, or fails or
/// waits as told. For measuring and racing the pipeline itself, where HTTP would only add noise.
/// </summary>
public sealed class InstantChatClientProvider(string kind = ProviderKinds.OpenAICompatible) : IChatClientProvider
{
    public string Kind { get; } = kind;

    /// <summary>Usage to report for a request (input, output); default 10 and 5.</summary>
    public Func<IReadOnlyList<ChatMessage>, ChatOptions?, (long Input, long Output)> Usage { get; set; } = (_, _) => (10, 5);

    /// <summary>Thrown instead of answering, when set.</summary>
    public Func<Exception>? Failure { get; set; }

    /// <summary>Awaited before answering (e.g. to hold a run in flight).</summary>
    public Func<CancellationToken, Task>? Delay { get; set; }

    public int Calls => _calls;

    private int _calls;

    public IChatClient CreateClient(ResolvedProvider provider) => new Client(this, provider.Model);

    private sealed class Client(InstantChatClientProvider owner, string model) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var updates = new List<ChatResponseUpdate>();
            await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                updates.Add(u);
            }

            return updates.ToChatResponse();
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref owner._calls);
            var list = messages.ToList();
            if (owner.Delay is { } delay)
            {
                await delay(cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (owner.Failure is { } failure)
            {
                throw failure();
            }

            var (input, output) = owner.Usage(list, options);
            yield return new ChatResponseUpdate(ChatRole.Assistant, "ok") { ModelId = model };
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output })]) { ModelId = model };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
