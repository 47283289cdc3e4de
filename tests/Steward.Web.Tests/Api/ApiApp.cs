using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Web.Tests.Gateway;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Api;

/// <summary>
/// The real app on a loopback Kestrel port (<see cref="GatewayApp"/>) with a <c>storyteller</c> preset on the embedded
/// engine running <c>stories260K.gguf</c>, beside the <c>assistant</c> preset on the fake OpenAI-compatible server.
/// </summary>
internal static class ApiApp
{
    public static async Task<GatewayApp> StartAsync()
    {
        var model = TestModels.Require("stories260K.gguf");
        return await GatewayApp.StartAsync(
            settings =>
            {
                settings["Steward:Providers:tiny:Kind"] = "local";
                settings["Steward:Providers:tiny:Model"] = model;
            },
            new Dictionary<string, string>
            {
                ["storyteller"] = """
                    name: storyteller
                    display_name: Storyteller
                    description: Tells tiny stories with the embedded engine.
                    instructions: Tell a story.
                    provider: tiny
                    max_output_tokens: 40
                    temperature: 0
                    """,
                ["scored"] = """
                    name: scored
                    display_name: Scored
                    description: Answers through the fake model server; every answer is scored.
                    instructions: Answer.
                    provider: fake
                    evaluators: [length, readability]
                    """,
            });
    }

    public static HttpClient Client(GatewayApp app) => new() { BaseAddress = new Uri(app.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Reads a ProblemDetails response: its status, and its JSON.</summary>
    public static async Task<JsonObject> ProblemAsync(HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(status, json["status"]!.GetValue<int>());
        return json;
    }

    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    public static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>Every server-sent event of <paramref name="url"/>, to the end of the stream, as (event name, id, data).</summary>
    public static async Task<IReadOnlyList<(string Event, string? Id, JsonObject Data)>> ReadEventsAsync(HttpClient http, string url, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<(string, string?, JsonObject)>();
        await using var stream = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync(TestContext.Current.CancellationToken))
        {
            events.Add((item.EventType, item.EventId, JsonNode.Parse(item.Data)!.AsObject()));
        }

        return events;
    }

    public static JsonSerializerOptions Web { get; } = new(JsonSerializerDefaults.Web);

    public static Task<HttpResponseMessage> PostJsonAsync(HttpClient http, string url, object body) =>
        http.PostAsJsonAsync(url, body, Web, TestContext.Current.CancellationToken);
}
