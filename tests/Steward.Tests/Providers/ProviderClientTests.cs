using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.Providers;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>The real provider SDKs, talking HTTP to a local server that speaks each provider's wire format.</summary>
public sealed class ProviderClientTests : IAsyncLifetime
{
    private const string Key = "sk-live-provider-secret-abcdef123456";
    private FakeModelServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await FakeModelServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    // These tests are about the providers' wire formats and errors, below the governed-call layers.
    private static readonly IServiceProvider NoServices = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(new Microsoft.Extensions.DependencyInjection.ServiceCollection());

    private IChatClient Client(string kind, string? api = null, string? endpoint = null, string model = "gpt-4o-mini")
    {
        var options = new ProvidersOptions { DefaultProvider = "p" };
        options.Providers["p"] = new ProviderOptions
        {
            Kind = kind, Endpoint = endpoint ?? (kind == ProviderKinds.Ollama ? _server.BaseUrl : _server.OpenAIUrl),
            ApiKey = Key, Model = model, Api = api, MaxRetries = 0, TimeoutSeconds = 10,
        };
        var catalog = new ProviderCatalog(Options.Create(options));
        var factory = new ChatClientFactory(
            [new OpenAIChatClientProvider(ProviderKinds.OpenAI), new OpenAIChatClientProvider(ProviderKinds.OpenAICompatible), new OllamaChatClientProvider()],
            catalog, NoServices) { Governed = false };
        return factory.Create(catalog.Resolve(null, null));
    }

    private static async Task<(string Text, UsageDetails Usage)> StreamAsync(IChatClient client)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], cancellationToken: TestContext.Current.CancellationToken))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        return (response.Text, response.Usage!);
    }

    [Theory]
    [InlineData(ProviderKinds.OpenAI, null)]
    [InlineData(ProviderKinds.OpenAICompatible, null)]
    [InlineData(ProviderKinds.OpenAI, "responses")]
    public async Task OpenAI_Streaming_DeliversTextAndAllUsageBuckets(string kind, string? api)
    {
        using var client = Client(kind, api);

        var (text, usage) = await StreamAsync(client);

        Assert.Equal("Hello from the fake model.", text);
        Assert.Equal(12, usage.InputTokenCount);
        Assert.Equal(4, usage.CachedInputTokenCount);
        Assert.Equal(7, usage.OutputTokenCount);
        Assert.Equal(2, usage.ReasoningTokenCount);
        var request = Assert.Single(_server.Requests);
        Assert.Equal(api == "responses" ? "/v1/responses" : "/v1/chat/completions", request.Path);
        Assert.Equal("Bearer " + Key, request.Headers["Authorization"]);
        Assert.Equal("gpt-4o-mini", request.Json["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenAI_NonStreaming_DeliversTextAndUsage()
    {
        using var client = Client(ProviderKinds.OpenAI);

        var response = await client.GetResponseAsync("Hi", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("Hello from the fake model.", response.Text);
        Assert.Equal(12, response.Usage!.InputTokenCount);
        Assert.Equal(7, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Ollama_Streaming_DeliversTextAndUsage()
    {
        using var client = Client(ProviderKinds.Ollama, model: "llama3.2");

        var (text, usage) = await StreamAsync(client);

        Assert.Equal("Hello from the fake model.", text);
        Assert.Equal(12, usage.InputTokenCount);
        Assert.Equal(7, usage.OutputTokenCount);
        var request = Assert.Single(_server.Requests);
        Assert.Equal("/api/chat", request.Path);
        Assert.Equal("llama3.2", request.Json["model"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(401, ProviderFailureKind.Unauthorized, "rejected the credentials")]
    [InlineData(404, ProviderFailureKind.NotFound, "does not know model 'gpt-4o-mini'")]
    [InlineData(429, ProviderFailureKind.RateLimited, "rate-limiting")]
    [InlineData(500, ProviderFailureKind.ServerError, "server error")]
    public async Task OpenAI_ErrorStatus_BecomesOneClearMessageWithoutTheKey(int status, ProviderFailureKind kind, string expected)
    {
        // OpenAI echoes part of a rejected key in its message; that must not reach the user either.
        _server.Reply = _ => new FakeReply { Error = (status, FakeModelServer.OpenAIError($"Incorrect API key provided: {Key[..6]}***{Key[^4..]} or {Key}", "invalid_request_error")) };
        using var client = Client(ProviderKinds.OpenAI);

        var ex = await Assert.ThrowsAsync<ProviderException>(() => StreamAsync(client));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'p'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key[^4..] + " ", ex.Message + " ", StringComparison.Ordinal);
        Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ollama_UnknownModel_BecomesNotFound()
    {
        _server.Reply = _ => new FakeReply { Error = (404, """{"error":"model \"nope\" not found, try pulling it first"}""") };
        using var client = Client(ProviderKinds.Ollama, model: "nope");

        var ex = await Assert.ThrowsAsync<ProviderException>(() => StreamAsync(client));

        Assert.Equal(ProviderFailureKind.NotFound, ex.Kind);
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ProviderKinds.OpenAI)]
    [InlineData(ProviderKinds.Ollama)]
    public async Task ConnectionRefused_BecomesUnreachableNamingTheEndpoint(string kind)
    {
        using var client = Client(kind, endpoint: "http://127.0.0.1:9/v1");

        var ex = await Assert.ThrowsAsync<ProviderException>(() => StreamAsync(client));

        Assert.Equal(ProviderFailureKind.Unreachable, ex.Kind);
        Assert.Contains("127.0.0.1:9", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EndpointThatIsAWebPage_SaysTheReplyIsNotAnApiReplyAndWhatToCheck(bool streaming)
    {
        using var client = Client(ProviderKinds.OpenAICompatible, endpoint: _server.BaseUrl + "/site");

        var ex = await Assert.ThrowsAsync<ProviderException>(() => streaming
            ? StreamAsync(client)
            : client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains(streaming ? "sent no answer: its reply held no events" : "not an OpenAI-style reply", ex.Message, StringComparison.Ordinal);
        Assert.Contains(_server.BaseUrl + "/site", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/v1", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(System.Net.Sockets.SocketError.ConnectionReset, ProviderFailureKind.Incomplete)]
    [InlineData(System.Net.Sockets.SocketError.ConnectionAborted, ProviderFailureKind.Incomplete)]
    [InlineData(System.Net.Sockets.SocketError.ConnectionRefused, ProviderFailureKind.Unreachable)]
    public async Task SocketFailure_WhileReadingTheReply_IsAnAnswerCutShortNotAnUnreachableServer(System.Net.Sockets.SocketError error, ProviderFailureKind expected)
    {
        // What SocketsHttpHandler throws when the connection goes while the body is read: an IOException around the socket's error.
        var failure = new IOException("Unable to read data from the transport connection.", new System.Net.Sockets.SocketException((int)error));
        var provider = new ResolvedProvider("p", ProviderKinds.OpenAI, "gpt-4o-mini", new ProviderOptions { Kind = ProviderKinds.OpenAI, Endpoint = "http://127.0.0.1:1/v1" });
        using var client = new ProviderErrorChatClient(new FailingClient(failure), provider, []);

        var ex = await Assert.ThrowsAsync<ProviderException>(() => StreamAsync(client));

        Assert.Equal(expected, ex.Kind);
    }

    private sealed class FailingClient(Exception failure) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw failure;

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            throw failure;
#pragma warning disable CS0162 // an iterator needs a yield to be one
            yield break;
#pragma warning restore CS0162
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task SlowServer_BecomesTimeoutNamingTheSetting()
    {
        _server.Reply = _ => new FakeReply { HangAfterChunks = 0 };
        var options = new ProvidersOptions { DefaultProvider = "p" };
        options.Providers["p"] = new ProviderOptions { Kind = ProviderKinds.OpenAI, Endpoint = _server.OpenAIUrl, ApiKey = Key, MaxRetries = 0, TimeoutSeconds = 1 };
        var catalog = new ProviderCatalog(Options.Create(options));
        using var client = new ChatClientFactory([new OpenAIChatClientProvider(ProviderKinds.OpenAI)], catalog, NoServices) { Governed = false }.Create(catalog.Resolve(null, null));

        var ex = await Assert.ThrowsAsync<ProviderException>(() => StreamAsync(client));

        Assert.Equal(ProviderFailureKind.Timeout, ex.Kind);
        Assert.Contains("TimeoutSeconds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallerCancellation_PassesThroughUntranslated()
    {
        _server.Reply = _ => new FakeReply { HangAfterChunks = 1 };
        using var client = Client(ProviderKinds.OpenAI);
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], cancellationToken: cts.Token))
            {
                await cts.CancelAsync();
            }
        });
    }
}
