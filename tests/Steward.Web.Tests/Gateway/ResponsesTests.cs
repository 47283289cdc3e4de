using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Steward.Keys;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Gateway;

/// <summary>
/// <c>POST /v1/responses</c> through the official OpenAI .NET SDK's Responses client (as Microsoft.Extensions.AI drives it)
/// and on the wire.
/// </summary>
public sealed class ResponsesTests : IAsyncLifetime
{
    private GatewayApp _app = null!;
    private string _secret = "";

    public async ValueTask InitializeAsync()
    {
        _app = await GatewayApp.StartAsync();
        _secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "responses" });
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

#pragma warning disable OPENAI001 // The Responses client is marked experimental in the OpenAI SDK.
    private IChatClient Responses(string model) => _app.Client(_secret).GetResponsesClient().AsIChatClient(model);
#pragma warning restore OPENAI001

    [Fact]
    public async Task CreateResponse_Text_AnswersWithUsage()
    {
        var response = await Responses("assistant").GetResponseAsync("Say hello.", cancellationToken: Ct);

        Assert.Equal("Hello from the fake model.", response.Text);
        Assert.Equal((12L, 7L, 4L), (response.Usage!.InputTokenCount!.Value, response.Usage.OutputTokenCount!.Value, response.Usage.CachedInputTokenCount!.Value));
        Assert.StartsWith("resp_", response.ResponseId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateResponseStreaming_TextDeltasThenCompletedWithUsage()
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Responses("fake/fake-model").GetStreamingResponseAsync("Say hello.", cancellationToken: Ct))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.Equal("Hello from the fake model.", response.Text);
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 4, "one update per streamed chunk");
        Assert.Equal(19L, response.Usage!.TotalTokenCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CreateResponse_FunctionCallRoundTrip(bool streaming)
    {
        _app.Model.Reply = FakeModelServer.CallToolThenAnswer("get_weather", """{"city":"Paris"}""", "It is sunny in Paris.");
        var client = Responses("fake/fake-model");
        var options = new ChatOptions
        {
            Tools = [AIFunctionFactory.CreateDeclaration("get_weather", "The weather in a city.",
                System.Text.Json.JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""").RootElement)],
        };
        List<ChatMessage> messages = [new(ChatRole.User, "Weather in Paris?")];

        var first = streaming ? (await client.GetStreamingResponseAsync(messages, options, Ct).ToListAsync(Ct)).ToChatResponse() : await client.GetResponseAsync(messages, options, Ct);

        var call = Assert.Single(first.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(("get_weather", "Paris"), (call.Name, call.Arguments!["city"]!.ToString()));
        messages.AddRange(first.Messages);
        messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, "Sunny, 24 °C.")]));
        var answer = await client.GetResponseAsync(messages, options, Ct);

        Assert.Equal("It is sunny in Paris.", answer.Text);
        Assert.Equal("Sunny, 24 °C.", _app.Model.LastToolResult());
    }

    [Fact]
    public async Task Stream_OnTheWire_EventsInOpenAIsOrderWithSequenceNumbers()
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _secret);
        using var content = new StringContent("""{"model":"assistant","input":"Hi","stream":true}""", Encoding.UTF8, "application/json");

        var response = await http.PostAsync(_app.BaseUrl + "/v1/responses", content, Ct);
        var events = (await response.Content.ReadAsStringAsync(Ct)).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => JsonNode.Parse(e.Split('\n').Single(l => l.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..])!).ToList();

        var types = events.Select(e => e["type"]!.GetValue<string>()).Distinct().ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], types);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e["sequence_number"]!.GetValue<int>()));
        Assert.Equal("completed", events[^1]["response"]!["status"]!.GetValue<string>());
        Assert.True(response.Headers.Contains("x-steward-run-id"));
    }

    [Theory]
    [InlineData("""{"model":"assistant","input":"Hi","previous_response_id":"resp_1"}""", "previous_response_id")]
    [InlineData("""{"model":"assistant","input":[{"type":"computer_call"}]}""", "input[0].type")]
    [InlineData("""{"model":"assistant","input":"Hi","frobnicate":1}""", "frobnicate")]
    public async Task CreateResponse_Unsupported_400NamingTheField(string body, string param)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _secret);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        var response = await http.PostAsync(_app.BaseUrl + "/v1/responses", content, Ct);

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!["param"]!.GetValue<string>());
        Assert.Empty(_app.Model.Requests);
    }
}
