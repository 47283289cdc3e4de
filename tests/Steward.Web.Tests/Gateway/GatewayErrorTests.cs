using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Steward.Keys;
using Steward.Sessions;

namespace Steward.Web.Tests.Gateway;

/// <summary>Bad input to the gateway: each a clean OpenAI-shaped error with its status, and nothing stored or sent upstream.</summary>
public sealed class GatewayErrorTests : IAsyncLifetime
{
    private GatewayApp _app = null!;
    private HttpClient _http = null!;
    private string _secret = "";

    public async ValueTask InitializeAsync()
    {
        _app = await GatewayApp.StartAsync();
        _secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "errors" });
        _http = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _secret);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, JsonObject Error, HttpResponseMessage Response)> PostAsync(string body, string path = "/v1/chat/completions")
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await _http.PostAsync(path, content, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var error = JsonNode.Parse(text)!["error"]!.AsObject();
        return (response.StatusCode, error, response);
    }

    private async Task AssertNothingStoredAsync()
    {
        Assert.Empty(_app.Model.Requests);
        Assert.Empty(await _app.Services.GetRequiredService<SessionStore>().ListAsync(null, 0, 10, Ct));
    }

    [Theory]
    [InlineData("{\"model\": \"assistant\", \"messages\": [", "invalid_json", null)]
    [InlineData("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}],"temprature":0.2}""", "unknown_parameter", "temprature")]
    [InlineData("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}],"n":5}""", "unsupported_parameter", "n")]
    [InlineData("""{"model":"assistant","messages":[{"role":"user","content":"Hi","colour":"red"}]}""", "unknown_parameter", "messages[0].colour")]
    [InlineData("""{"model":"assistant","messages":[]}""", "invalid_value", "messages")]
    [InlineData("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}""", "invalid_value", "temperature")]
    [InlineData("""{"messages":[{"role":"user","content":"Hi"}]}""", "missing_required_parameter", "model")]
    [InlineData("""[1, 2]""", "invalid_request", null)]
    public async Task ChatCompletions_BadRequest_400NamingTheProblem(string body, string code, string? param)
    {
        var (status, error, _) = await PostAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(("invalid_request_error", code), (error["type"]!.GetValue<string>(), error["code"]!.GetValue<string>()));
        Assert.Equal(param, error["param"]?.GetValue<string>());
        Assert.DoesNotContain('\n', error["message"]!.GetValue<string>());
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task ChatCompletions_TwentyMegabyteBody_413BeforeReadingIt()
    {
        var body = """{"model":"assistant","messages":[{"role":"user","content":" """ + new string('x', 20 * 1024 * 1024) + "\"}]}";

        var (status, error, _) = await PostAsync(body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("request_too_large", error["code"]!.GetValue<string>());
        Assert.Contains("Steward:Gateway:MaxRequestBytes", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Theory]
    [InlineData("no_such_preset")]
    [InlineData("nowhere/gpt-4o")]
    public async Task ChatCompletions_UnknownModel_404ModelNotFound(string model)
    {
        var (status, error, _) = await PostAsync($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(("model_not_found", "model"), (error["code"]!.GetValue<string>(), error["param"]!.GetValue<string>()));
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task ChatCompletions_RevokedKey_401AndNothingStored()
    {
        await _app.Services.GetRequiredService<ApiKeyStore>().RevokeAsync("errors", Ct);

        var (status, error, response) = await PostAsync("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", error["code"]!.GetValue<string>());
        Assert.Contains("was revoked", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(_secret, error.ToJsonString(), StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("x-request-id"));
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task ChatCompletions_NoKey_401()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        using var content = new StringContent("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json");

        var response = await anonymous.PostAsync("/v1/chat/completions", content, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("didn't provide an API key", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/V1/chat/completions")]
    [InlineData("/v1/Chat/Completions")]
    public async Task ChatCompletions_PathInAnotherCase_KeyStillChecked(string path)
    {
        // Routing matches paths whatever their case, so the key check must too: an upper-case /V1 reached the endpoint
        // without it and failed there with a 500.
        using var anonymous = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        using var content = new StringContent("""{"model":"assistant","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json");

        var response = await anonymous.PostAsync(path, content, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("didn't provide an API key", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Theory]
    // The provider failing is a gateway fault; the provider refusing the request as sent is the caller's to change.
    [InlineData(500, "server_error", HttpStatusCode.BadGateway, "api_error", "upstream_error")]
    [InlineData(400, "invalid_request_error", HttpStatusCode.BadRequest, "invalid_request_error", "upstream_invalid_request")]
    public async Task ChatCompletions_UpstreamError_ItsStatusMappedWithTheProvidersReasonAndNoSecret(
        int upstreamStatus, string upstreamType, HttpStatusCode expected, string type, string code)
    {
        _app.Model.Reply = _ => new Steward.Tests.TestSupport.FakeReply
        {
            Error = (upstreamStatus, Steward.Tests.TestSupport.FakeModelServer.OpenAIError("the upstream's own reason", upstreamType)),
        };

        var (status, error, response) = await PostAsync("""{"model":"fake/fake-model","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(expected, status);
        Assert.Equal((type, code), (error["type"]!.GetValue<string>(), error["code"]!.GetValue<string>()));
        Assert.Contains("the upstream's own reason", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("sk-upstream-secret", error.ToJsonString(), StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("x-steward-run-id"));
    }

    [Fact]
    public async Task ChatCompletions_SchemaTheEmbeddedEngineCannotEnforce_400NamingTheKeyword()
    {
        await using var app = await StartEngineAppAsync(Steward.Web.Tests.TestSupport.TestModels.Require("stories260K.gguf"));

        var (status, error) = await PostWithAKeyAsync(app, """
            {"model":"engine-preset","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"code",
             "schema":{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}}}}}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("upstream_invalid_request", error["code"]!.GetValue<string>());
        Assert.Contains("'pattern' at #/properties/code is not supported", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>A gateway whose preset <c>engine-preset</c> runs on the embedded engine with <paramref name="model"/>.</summary>
    private static Task<GatewayApp> StartEngineAppAsync(string model) => GatewayApp.StartAsync(
        s =>
        {
            s["Steward:Providers:engine:Kind"] = "local";
            s["Steward:Providers:engine:Model"] = model;
        },
        new Dictionary<string, string> { ["engine-preset"] = "name: engine-preset\ndisplay_name: Engine\ndescription: The embedded engine.\ninstructions: Answer briefly.\nprovider: engine\n" });

    /// <summary>Posts <paramref name="body"/> to the chat endpoint of <paramref name="app"/> with a new key: the error it answers.</summary>
    private static async Task<(HttpStatusCode Status, JsonObject Error)> PostWithAKeyAsync(GatewayApp app, string body)
    {
        using var http = new HttpClient { BaseAddress = new Uri(app.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await app.CreateKeyAsync(new ApiKeySpec { Name = "engine" }));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await http.PostAsync("/v1/chat/completions", content, Ct);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!.AsObject());
    }

    [Fact]
    public async Task ChatCompletions_PresetWhoseModelIsNotOnDisk_503SayingWhatToPull()
    {
        await using var app = await StartEngineAppAsync("no-such-model-on-disk");

        var (status, error) = await PostWithAKeyAsync(app, """{"model":"engine-preset","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(("api_error", "provider_not_configured"), (error["type"]!.GetValue<string>(), error["code"]!.GetValue<string>()));
        Assert.Contains("no model 'no-such-model-on-disk'", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("models pull", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(app.Model.Requests);
    }

    [Fact]
    public async Task ChatCompletions_PresetFileWithAMistakeAddedWhileRunning_503AsJsonWithoutTheServersPath()
    {
        var folder = _app.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Steward:Agents:Directory"]!;
        await File.WriteAllTextAsync(Path.Combine(folder, "broken.yaml"), "name: broken\ninstructions: [unclosed\n", Ct);

        var (status, error, response) = await PostAsync("""{"model":"broken","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("preset_invalid", error["code"]!.GetValue<string>());
        Assert.DoesNotContain(folder, error.ToJsonString(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task RequestsPerMinute_OverTheKeysLimit_429WithRetryAfter()
    {
        var secret = await _app.CreateKeyAsync(new ApiKeySpec { Name = "slow", RequestsPerMinute = 2 });
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/v1/models", Ct)).StatusCode);
        }

        var refused = await _http.GetAsync("/v1/models", Ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal("rate_limit_exceeded", JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!["error"]!["code"]!.GetValue<string>());
    }
}
