using System.Net;
using System.Text.RegularExpressions;

namespace Steward.Web.Tests.Hosting;

/// <summary>Every page and endpoint answers with nosniff, no referrer and a script-locking Content-Security-Policy.</summary>
public sealed partial class SecurityHeadersTests(HostingApp app) : IClassFixture<HostingApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("GET", "/", HttpStatusCode.OK)]
    [InlineData("GET", "/history", HttpStatusCode.OK)]
    [InlineData("GET", "/analytics", HttpStatusCode.OK)]
    [InlineData("GET", "/traces", HttpStatusCode.OK)]
    [InlineData("GET", "/agents", HttpStatusCode.OK)]
    [InlineData("GET", "/chat/0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90", HttpStatusCode.OK)]
    [InlineData("GET", "/no-such-page", HttpStatusCode.NotFound)]
    [InlineData("GET", "/healthz", HttpStatusCode.OK)]
    [InlineData("GET", "/api/sessions/0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90/export", HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/runs/0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90/trace", HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/runs/0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90/trace/otlp", HttpStatusCode.NotFound)]
    [InlineData("GET", "/app.css", HttpStatusCode.OK)]
    [InlineData("GET", "/favicon.ico", HttpStatusCode.OK)]
    [InlineData("GET", "/_framework/blazor.web.js", HttpStatusCode.OK)]
    [InlineData("GET", "/_content/MudBlazor/MudBlazor.min.js", HttpStatusCode.OK)]
    [InlineData("GET", "/_content/MudBlazor/MudBlazor.min.css", HttpStatusCode.OK)]
    [InlineData("POST", "/_blazor/negotiate?negotiateVersion=1", HttpStatusCode.OK)]
    [InlineData("DELETE", "/api/sessions/0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90", HttpStatusCode.Forbidden)]
    public async Task Response_CarriesTheSecurityHeaders(string method, string path, HttpStatusCode status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (status == HttpStatusCode.Forbidden)
        {
            request.Headers.Add("Origin", "http://evil.example");
        }

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("same-origin", Header(response, "Referrer-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        var policy = Header(response, "Content-Security-Policy");
        Assert.Contains("default-src 'self'", policy, StringComparison.Ordinal);
        Assert.Matches(@"script-src 'self' 'nonce-[0-9a-f]{32}';", policy);
        Assert.Contains("object-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.DoesNotMatch("script-src[^;]*unsafe-inline", policy);
    }

    [Fact]
    public async Task Page_OnlyInlineScriptIsTheImportMapWithThisResponsesNonce()
    {
        using var first = await app.Http.GetAsync("/", Ct);
        using var second = await app.Http.GetAsync("/", Ct);
        var html = await first.Content.ReadAsStringAsync(Ct);

        var nonce = NonceOf(Header(first, "Content-Security-Policy"));
        Assert.NotEqual(nonce, NonceOf(Header(second, "Content-Security-Policy")));
        var inline = InlineScript().Matches(html).Select(m => m.Value).ToArray();
        var importMap = System.Net.WebUtility.HtmlDecode(Assert.Single(inline));
        Assert.Contains("type=\"importmap\"", importMap, StringComparison.Ordinal);
        Assert.Contains($"nonce=\"{nonce}\"", importMap, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/v1/models", HttpStatusCode.Unauthorized)]
    [InlineData("POST", "/v1/chat/completions", HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/v1/no-such-thing", HttpStatusCode.Unauthorized)]
    public async Task GatewayResponse_CarriesTheSecurityHeadersWithTheApiPolicy(string method, string path, HttpStatusCode status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new StringContent("{}") : null };

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("same-origin", Header(response, "Referrer-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        // Never rendered, so nothing may load and nothing may frame it; no nonce (there is no script to allow).
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
    }

    private static string NonceOf(string policy) => Regex.Match(policy, "'nonce-([^']+)'").Groups[1].Value;

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : throw new Xunit.Sdk.XunitException($"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri} has no {name} header");

    // A <script> element without a src attribute: code in the page itself.
    [GeneratedRegex("<script(?![^>]*\\bsrc=)[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();
}
