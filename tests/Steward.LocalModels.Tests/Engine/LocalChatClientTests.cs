using Microsoft.Extensions.AI;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

public sealed class LocalChatClientTests : IDisposable
{
    private const string StoriesGreedyText = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw";

    private readonly string _dir = Directory.CreateTempSubdirectory("chat-client").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ChatOptions RawGreedy(int maxTokens) => new()
    {
        Temperature = 0,
        MaxOutputTokens = maxTokens,
        AdditionalProperties = new() { ["raw"] = true },
    };

    [Fact]
    public async Task GetResponseAsync_RawGreedyStories_MatchesLlamaCppTextAndUsage()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2 });

        var response = await client.GetResponseAsync("Once upon a time", RawGreedy(32), TestContext.Current.CancellationToken);

        Assert.Equal(StoriesGreedyText, response.Text);
        Assert.Equal(5, response.Usage?.InputTokenCount);
        Assert.Equal(32, response.Usage?.OutputTokenCount);
        Assert.Equal(37, response.Usage?.TotalTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("stories260K", response.ModelId);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_RawGreedyStories_StreamsDeltasThenUsage()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2 });
        var updates = new List<ChatResponseUpdate>();

        await foreach (var update in client.GetStreamingResponseAsync("Once upon a time", RawGreedy(32), TestContext.Current.CancellationToken))
        {
            updates.Add(update);
        }

        Assert.True(updates.Count(u => u.Text.Length > 0) > 10);
        Assert.Equal(StoriesGreedyText, string.Concat(updates.Select(u => u.Text)));
        var usage = Assert.Single(updates[^1].Contents.OfType<UsageContent>());
        Assert.Equal(5, usage.Details.InputTokenCount);
        Assert.Equal(32, usage.Details.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        var merged = updates.ToChatResponse();
        Assert.Equal(32, merged.Usage?.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal("stories260K", u.ModelId));
    }

    [Fact]
    public async Task GetResponseAsync_StopSequence_CutsTextAndReportsStop()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var options = RawGreedy(32);
        options.StopSequences = [" named"];

        var response = await client.GetResponseAsync("Once upon a time", options, TestContext.Current.CancellationToken);

        Assert.Equal(", there was a little girl", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.True(response.Usage?.OutputTokenCount < 32);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_StopSequenceAcrossTokens_NeverLeaksPartialMatch()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var options = RawGreedy(32);
        options.StopSequences = ["Lily. She"];
        var text = "";

        await foreach (var update in client.GetStreamingResponseAsync("Once upon a time", options, TestContext.Current.CancellationToken))
        {
            text += update.Text;
        }

        Assert.Equal(", there was a little girl named ", text);
    }

    [Fact]
    public async Task GetResponseAsync_MaxOutputTokens_LimitsAndReportsLength()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });

        var response = await client.GetResponseAsync("Once upon a time", RawGreedy(3), TestContext.Current.CancellationToken);

        Assert.Equal(3, response.Usage?.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.StartsWith(response.Text, StoriesGreedyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_CancelledMidway_ThrowsOperationCanceled()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var received = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync("Once upon a time", RawGreedy(200), cts.Token))
            {
                if (++received == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal(2, received);

        // The model is usable again afterwards (the semaphore was released).
        var response = await client.GetResponseAsync("Once upon a time", RawGreedy(4), TestContext.Current.CancellationToken);
        Assert.Equal(4, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task GetResponseAsync_AlreadyCancelled_Throws()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.GetResponseAsync("Once upon a time", RawGreedy(4), new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task GetResponseAsync_PromptBeyondContext_ThrowsContextWindowExceeded()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1, ContextLength = 64 });

        var ex = await Assert.ThrowsAsync<ContextWindowExceededException>(() =>
            client.GetResponseAsync("Once upon a time", RawGreedy(100), TestContext.Current.CancellationToken));

        Assert.Equal(5, ex.PromptTokens);
        Assert.Equal(100, ex.RequestedTokens);
        Assert.Equal(64, ex.ContextSize);
    }

    [Fact]
    public async Task GetResponseAsync_ConcurrentCalls_AreIndependent()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2 });
        var ct = TestContext.Current.CancellationToken;

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetResponseAsync("Once upon a time", RawGreedy(32), ct)));

        Assert.All(responses, r => Assert.Equal(StoriesGreedyText, r.Text));
    }

    [Fact]
    public async Task GetResponseAsync_SameSeed_SameText()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });
        var options = new ChatOptions
        {
            Temperature = 1f,
            Seed = 1234,
            MaxOutputTokens = 24,
            AdditionalProperties = new() { ["raw"] = true, ["min_p"] = 0.02, ["repetition_penalty"] = 1.1f },
        };
        var ct = TestContext.Current.CancellationToken;

        var a = await client.GetResponseAsync("Once upon a time", options, ct);
        var b = await client.GetResponseAsync("Once upon a time", options, ct);

        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public void GetService_ReturnsSelfAndMetadata()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 1 });

        Assert.Same(client, client.GetService<LocalChatClient>());
        Assert.Same(client, client.GetService<IChatClient>());
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("steward-local", metadata?.ProviderName);
        Assert.Equal("stories260K", metadata?.DefaultModelId);
        Assert.Null(client.GetService<ChatClientMetadata>("key"));
    }

    [Fact]
    public async Task GetResponseAsync_TinyChatMlModel_RendersTemplateAndCountsTokens()
    {
        var path = TinyModels.Write(_dir, "qwen2", GgmlType.Q8_0);
        using var client = LocalChatClient.Load(path, new LocalModelOptions { Threads = 2 });
        var messages = new List<ChatMessage> { new(ChatRole.System, "be brief"), new(ChatRole.User, "hi there") };
        var ct = TestContext.Current.CancellationToken;

        var response = await client.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 8, Temperature = 0 }, ct);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(messages, new ChatOptions { MaxOutputTokens = 8, Temperature = 0 }, ct))
        {
            updates.Add(u);
        }

        // "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n"
        Assert.True(response.Usage?.InputTokenCount > 10);
        Assert.InRange(response.Usage!.OutputTokenCount!.Value, 0, 8);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(response.Usage.OutputTokenCount, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        Assert.Equal(response.FinishReason, updates[^1].FinishReason);
        Assert.StartsWith("tiny-qwen2", response.ModelId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama")]
    public async Task GetResponseAsync_TinyByteLevelBpeChatMlModel_RunsEndToEnd(string architecture)
    {
        var path = TinyModels.Write(_dir, architecture, GgmlType.Q8_0, new TinyModels.Shape(ByteLevelBpe: true));
        using var client = LocalChatClient.Load(path, new LocalModelOptions { Threads = 2 });
        var messages = new List<ChatMessage> { new(ChatRole.System, "be brief"), new(ChatRole.User, "hi there, the user") };
        var ct = TestContext.Current.CancellationToken;

        var response = await client.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 6, Temperature = 0 }, ct);
        var exact = client.CountPromptTokens(messages);

        // "<|im_start|>" "system" "\n" "be" " brief"… : the markers are single control tokens and merges apply, so
        // the prompt is far shorter than its 79 bytes.
        Assert.Equal(exact, response.Usage!.InputTokenCount);
        Assert.InRange(exact, 20, 60);
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 0, 6);
        Assert.StartsWith($"tiny-{architecture}", response.ModelId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Instructions_BecomeSystemTurnAndUpdatesShareIds()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.Q8_0);
        using var client = LocalChatClient.Load(path, new LocalModelOptions { Threads = 1 });
        var ct = TestContext.Current.CancellationToken;
        var plain = await client.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2, Temperature = 0 }, ct);
        var updates = new List<ChatResponseUpdate>();

        await foreach (var u in client.GetStreamingResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2, Temperature = 0, Instructions = "be brief" }, ct))
        {
            updates.Add(u);
        }

        var usage = updates[^1].Contents.OfType<UsageContent>().Single().Details;
        Assert.True(usage.InputTokenCount > plain.Usage?.InputTokenCount);
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
    }

    [Fact]
    public async Task GetResponseAsync_TinyLlamaModelRaw_DiffersFromTemplatedPrompt()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.Q4_K);
        using var client = LocalChatClient.Load(path, new LocalModelOptions { Threads = 1 });
        var ct = TestContext.Current.CancellationToken;

        var raw = await client.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2, Temperature = 0, AdditionalProperties = new() { ["raw"] = true } }, ct);
        var templated = await client.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2, Temperature = 0 }, ct);

        Assert.True(raw.Usage?.InputTokenCount < templated.Usage?.InputTokenCount);
    }
}
