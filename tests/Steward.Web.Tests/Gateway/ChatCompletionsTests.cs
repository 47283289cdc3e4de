using System.ClientModel;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Steward.Keys;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Gateway;

/// <summary><c>POST /v1/chat/completions</c> through the official OpenAI .NET SDK against the running app.</summary>
public sealed class ChatCompletionsTests : IAsyncLifetime
{
    private GatewayApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await GatewayApp.StartAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("assistant")]
    [InlineData("fake/fake-model")]
    public async Task CompleteChat_PresetOrPassThrough_AnswersAndStoresAGatewayRunWithTheKey(string model)
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "billing" });
        var chat = _app.Client(secret).GetChatClient(model);

        var result = await chat.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Say hello.")], cancellationToken: Ct);

        Assert.Equal("Hello from the fake model.", result.Value.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, result.Value.FinishReason);
        Assert.Equal((12, 7, 4, 2), (result.Value.Usage.InputTokenCount, result.Value.Usage.OutputTokenCount,
            result.Value.Usage.InputTokenDetails.CachedTokenCount, result.Value.Usage.OutputTokenDetails.ReasoningTokenCount));
        var headers = result.GetRawResponse().Headers;
        Assert.True(headers.TryGetValue("x-steward-run-id", out var runId));
        Assert.True(headers.TryGetValue("x-steward-cost-usd", out _));
        Assert.True(headers.TryGetValue("x-request-id", out var requestId) && requestId!.StartsWith("req_", StringComparison.Ordinal));

        var sent = Assert.Single(_app.Model.Requests).Json;
        var roles = sent["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()).ToList();
        Assert.Equal(model == "assistant" ? ["system", "system", "user"] : ["system", "user"], roles);
        Assert.DoesNotContain(secret, _app.Model.Requests.Single().Body, StringComparison.Ordinal);
        var sessions = _app.Services.GetRequiredService<SessionStore>();
        var session = Assert.Single(await _app.WaitForSessionsAsync(1));
        var run = Assert.Single((await sessions.GetAsync(session.Id, Ct)).Runs);
        Assert.Equal((Guid.Parse(runId!), model, Agents.RunStatus.Completed), (run.Id, run.Preset, run.Status));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompleteChat_PassThrough_UpstreamStreamsOnlyWhenTheCallerDoesAndTheWholeRunIsStored(bool streaming)
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "whole" });
        var chat = _app.Client(secret).GetChatClient("fake/fake-model");

        var text = "";
        if (streaming)
        {
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Say hello.")], cancellationToken: Ct))
            {
                text += string.Concat(update.ContentUpdate.Select(p => p.Text));
            }
        }
        else
        {
            text = (await chat.CompleteChatAsync([new UserChatMessage("Say hello.")], cancellationToken: Ct)).Value.Content[0].Text;
        }

        Assert.Equal("Hello from the fake model.", text);
        var sent = Assert.Single(_app.Model.Requests).Json;
        Assert.Equal(streaming, sent["stream"]?.GetValue<bool>() ?? false);
        // Stored behind the answer as a whole run: the exchange, the progress log and the model call are all there.
        var session = Assert.Single(await _app.WaitForSessionsAsync(1));
        var detail = await _app.Services.GetRequiredService<SessionStore>().GetAsync(session.Id, Ct);
        Assert.Equal([(1, "user", "Say hello."), (2, "assistant", "Hello from the fake model.")], detail.Messages.Select(m => (m.Sequence, m.Role, m.Content)));
        var run = Assert.Single(detail.Runs);
        Assert.Equal((Agents.RunStatus.Completed, 12L, 7L), (run.Status, run.Usage.InputTokens, run.Usage.OutputTokens));
        Assert.Equal(Enumerable.Range(1, run.Events.Count), run.Events.Select(e => e.Sequence));
        Assert.Equal([Agents.RunStage.Initializing, Agents.RunStage.Completed], [run.Events[0].Stage, run.Events[^1].Stage]);
        var calls = await _app.Services.GetRequiredService<Calls.ModelCallStore>().ForRunsAsync([run.Id], Ct);
        var call = Assert.Single(calls[run.Id]);
        Assert.Equal((Calls.ModelCallPurpose.Gateway, 12L, 7L, "stop"), (call.Purpose, call.Usage.InputTokens, call.Usage.OutputTokens, call.FinishReason));
    }

    [Fact]
    public async Task CompleteChat_UserAndMetadata_StoredAsTheRunsUserIdAndTags()
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "meta" });
        var chat = _app.Client(secret).GetChatClient("assistant");
        var options = new ChatCompletionOptions { EndUserId = "customer-7" };
#pragma warning disable OPENAI001 // metadata is marked experimental in the SDK; the wire field is stable in the API
        options.Metadata["team"] = "search";
        options.Metadata["nightly"] = "";
#pragma warning restore OPENAI001

        await chat.CompleteChatAsync([new UserChatMessage("Say hello.")], options, Ct);

        var sent = Assert.Single(_app.Model.Requests).Json;
        Assert.Null(sent["metadata"]); // the caller's labels are Steward's business, not the model's
        var session = Assert.Single(await _app.WaitForSessionsAsync(1));
        var run = Assert.Single((await _app.Services.GetRequiredService<SessionStore>().GetAsync(session.Id, Ct)).Runs);
        Assert.Equal("customer-7", run.UserId);
        Assert.Equal(["nightly", "team:search"], run.Tags);
    }

    [Fact]
    public async Task CompleteChatStreaming_TextDeltasThenFinishAndUsage()
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "stream" });
        var chat = _app.Client(secret).GetChatClient("assistant");

        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Hi")], cancellationToken: Ct))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(c => c.Text)));
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal("Hello from the fake model.", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Equal(19, usage!.TotalTokenCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompleteChat_ToolCallRoundTrip_TheCallerRunsTheFunctionAndGetsTheAnswer(bool streaming)
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "tools" });
        var chat = _app.Client(secret).GetChatClient("fake/fake-model");
        _app.Model.Reply = FakeModelServer.CallToolThenAnswer("get_weather", """{"city":"Paris"}""", "It is sunny in Paris.");
        var weather = ChatTool.CreateFunctionTool("get_weather", "The weather in a city.",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather }, ToolChoice = ChatToolChoice.CreateAutoChoice() };
        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];

        var (call, finish) = streaming ? await StreamedCallAsync(chat, messages, options) : await CallAsync(chat, messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal(("get_weather", "Paris"), (call.FunctionName, System.Text.Json.JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString()));
        var first = _app.Model.Requests.Single().Json;
        Assert.Equal("get_weather", first["tools"]![0]!["function"]!["name"]!.GetValue<string>());

        messages.Add(new AssistantChatMessage([call]));
        messages.Add(new ToolChatMessage(call.Id, "Sunny, 24 °C."));
        var answer = await chat.CompleteChatAsync(messages, options, Ct);

        Assert.Equal("It is sunny in Paris.", answer.Value.Content[0].Text);
        Assert.Equal("Sunny, 24 °C.", _app.Model.LastToolResult());
    }

    private static async Task<(ChatToolCall Call, ChatFinishReason? Finish)> CallAsync(ChatClient chat, List<ChatMessage> messages, ChatCompletionOptions options)
    {
        var result = await chat.CompleteChatAsync(messages, options, Ct);
        return (Assert.Single(result.Value.ToolCalls), result.Value.FinishReason);
    }

    private static async Task<(ChatToolCall Call, ChatFinishReason? Finish)> StreamedCallAsync(ChatClient chat, List<ChatMessage> messages, ChatCompletionOptions options)
    {
        string? id = null, name = null;
        var arguments = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options, Ct))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                id ??= part.ToolCallId;
                name ??= part.FunctionName;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }

            finish ??= update.FinishReason;
        }

        return (ChatToolCall.CreateFunctionToolCall(id!, name!, BinaryData.FromString(arguments.ToString())), finish);
    }

    [Fact]
    public async Task CompleteChat_KeyBudgetExhausted_SdkRaisesRateLimitAndNothingMoreReachesTheModel()
    {
        // Each call reserves its prompt plus the 20-token cap and uses 19: the third no longer fits 60 tokens.
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "small", BudgetTokens = 60, BudgetPeriod = Budgets.BudgetPeriod.Daily });
        var chat = _app.Client(secret).GetChatClient("fake/fake-model");
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 20 };

        var refused = 0;
        ClientResultException? error = null;
        for (var i = 0; i < 5 && error is null; i++)
        {
            try
            {
                var ok = await chat.CompleteChatAsync([new UserChatMessage("Hi")], options, Ct);
                Assert.True(ok.GetRawResponse().Headers.TryGetValue("x-steward-budget-remaining", out var left) && left!.EndsWith(" tokens", StringComparison.Ordinal));
            }
            catch (ClientResultException ex)
            {
                error = ex;
                refused = i;
            }
        }

        Assert.NotNull(error);
        Assert.Equal(429, error.Status);
        Assert.True(refused >= 1, "the first call fits the budget");
        Assert.Contains("API key budget 'key:small'", error.Message, StringComparison.Ordinal);
        Assert.True(error.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var after) && int.Parse(after!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(refused, _app.Model.Requests.Count);
    }

    [Fact]
    public async Task CompleteChat_BadKey_SdkRaisesAuthenticationErrorAndNothingIsStored()
    {
        var chat = _app.Client("sk-stw-not-a-real-key").GetChatClient("assistant");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Ct));

        Assert.Equal(401, error.Status);
        Assert.Contains("Incorrect API key", error.Message, StringComparison.Ordinal);
        Assert.Empty(_app.Model.Requests);
        Assert.Empty(await _app.Services.GetRequiredService<SessionStore>().ListAsync(null, 0, 10, Ct));
    }

    [Fact]
    public async Task CompleteChat_ModelOutsideTheKeysList_Forbidden()
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "narrow", Models = ["assistant"] });

        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            _app.Client(secret).GetChatClient("fake/fake-model").CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Ct));

        Assert.Equal(403, error.Status);
        Assert.Empty(_app.Model.Requests);
    }

    [Fact]
    public async Task ListModels_PresetsAndProviderModelsTheKeyMayCall()
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "lister" });

        var models = await _app.Client(secret).GetOpenAIModelClient().GetModelsAsync(Ct);

        Assert.Equal(["assistant", "fake/fake-model"], models.Value.Select(m => m.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ListModels_ModelConfiguredAsAFile_ListedByItsNameNeverItsPath()
    {
        var folder = Directory.CreateTempSubdirectory("steward-gguf-").FullName;
        var file = Path.Combine(folder, "private-name.gguf");
        await using var app = await GatewayApp.StartAsync(s =>
        {
            s["Steward:Providers:disk:Kind"] = "local";
            s["Steward:Providers:disk:Model"] = file;
        });
        var secret = await app.CreateKeyAsync(new ApiKeySpec { Name = "lister" });

        var models = await app.Client(secret).GetOpenAIModelClient().GetModelsAsync(Ct);

        Assert.Contains(models.Value, m => m.Id == "assistant");
        Assert.Contains(models.Value, m => m.Id == "disk/private-name");
        Assert.DoesNotContain(models.Value, m => m.Id.Contains(folder, StringComparison.Ordinal) || m.Id.Contains(".gguf", StringComparison.Ordinal));
    }
}
