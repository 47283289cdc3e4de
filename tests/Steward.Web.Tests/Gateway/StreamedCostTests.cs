using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Steward.Keys;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Gateway;

/// <summary>
/// A streamed answer's cost is known only at its end, after the headers: it comes as the HTTP trailer
/// <c>x-steward-cost-usd</c> where the protocol has trailers (HTTP/2) and always in the last chunk's <c>steward</c> field,
/// which the OpenAI SDKs ignore (their streaming tests in this folder read the same streams).
/// </summary>
public sealed class StreamedCostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Streams => new()
    {
        { "/v1/chat/completions", """{"model":"assistant","stream":true,"messages":[{"role":"user","content":"Hi"}]}""" },
        { "/v1/chat/completions", """{"model":"assistant","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}""" },
        { "/v1/responses", """{"model":"assistant","stream":true,"input":"Hi"}""" },
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task Stream_Http2_CostInTrailerAndInTheLastEvent(string path, string body)
    {
        // Cleartext HTTP/2 (prior knowledge) needs an HTTP/2-only endpoint.
        await using var app = await StartAsync(settings => settings["Kestrel:EndpointDefaults:Protocols"] = "Http2");
        using var http = await ClientAsync(app);
        http.DefaultRequestVersion = HttpVersion.Version20;
        http.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        var (response, last, _) = await StreamAsync(http, path, body);

        var cost = AssertCost(response, last);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(cost, Assert.Single(response.TrailingHeaders.GetValues("x-steward-cost-usd")));
        Assert.Contains("x-steward-cost-usd", response.Headers.GetValues("Trailer").Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task Stream_Http11_CostInTheLastEventAndNoTrailerPromised(string path, string body)
    {
        await using var app = await StartAsync(null);
        using var http = await ClientAsync(app);

        var (response, last, _) = await StreamAsync(http, path, body);

        AssertCost(response, last);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.False(response.Headers.Contains("Trailer"));
        Assert.Empty(response.TrailingHeaders);
    }

    [Fact]
    public async Task ProviderReportsNoUsage_WholeAndStreamedAnswersSayTheUsageIsStewardsCount()
    {
        await using var app = await StartAsync(null);
        app.Model.Reply = _ => new FakeReply { OmitUsage = true };
        using var http = await ClientAsync(app);

        var (streamed, last, _) = await StreamAsync(http, "/v1/chat/completions",
            """{"model":"assistant","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}""");
        using var whole = await http.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"), Ct);

        Assert.True(last["steward"]!["usage_estimated"]!.GetValue<bool>());
        Assert.True(last["usage"]!["completion_tokens"]!.GetValue<int>() > 0);
        Assert.False(streamed.Headers.Contains("x-steward-usage-estimated")); // known only at the end of a stream
        Assert.Equal("true", Assert.Single(whole.Headers.GetValues("x-steward-usage-estimated")));
    }

    [Fact]
    public async Task ProviderReportsUsage_NoEstimateIsClaimed()
    {
        await using var app = await StartAsync(null);
        using var http = await ClientAsync(app);

        var (_, last, _) = await StreamAsync(http, "/v1/chat/completions", """{"model":"assistant","stream":true,"messages":[{"role":"user","content":"Hi"}]}""");
        using var whole = await http.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"), Ct);

        Assert.Null(last["steward"]!["usage_estimated"]);
        Assert.False(whole.Headers.Contains("x-steward-usage-estimated"));
    }

    private static Task<GatewayApp> StartAsync(Action<Dictionary<string, string?>>? configure) => GatewayApp.StartAsync(settings =>
    {
        // Priced, so the cost is a figure and not "unpriced".
        settings["Steward:Pricing:Models:fake-model:Input"] = "1";
        settings["Steward:Pricing:Models:fake-model:Output"] = "2";
        configure?.Invoke(settings);
    });

    private static async Task<HttpClient> ClientAsync(GatewayApp app)
    {
        var secret = await app.CreateKeyAsync(new ApiKeySpec { Name = "costs" });
        var http = new HttpClient { BaseAddress = new Uri(app.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return http;
    }

    private static async Task<(HttpResponseMessage Response, JsonObject Last, IReadOnlyList<JsonObject> Events)> StreamAsync(HttpClient http, string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"), Version = http.DefaultRequestVersion, VersionPolicy = http.DefaultVersionPolicy,
        };
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, text);
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n').Single(l => l.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..])
            .Where(d => d != "[DONE]").Select(d => JsonNode.Parse(d)!.AsObject()).ToList();
        Assert.All(events.SkipLast(1), e => Assert.Null(e["steward"]));
        return (response, events[^1], events);
    }

    private static string AssertCost(HttpResponseMessage response, JsonObject last)
    {
        Assert.False(response.Headers.Contains("x-steward-cost-usd"));
        var cost = last["steward"]!["cost_usd"]!.GetValue<string>();
        Assert.True(decimal.Parse(cost, System.Globalization.CultureInfo.InvariantCulture) > 0, cost);
        Assert.Equal(response.Headers.GetValues("x-steward-run-id").Single(), last["steward"]!["run_id"]!.GetValue<string>());
        return cost;
    }
}
