using System.Net;
using System.Text.RegularExpressions;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.SignIn;

/// <summary>
/// Signing out of an OpenID Connect session over plain HTTP, against the <see cref="FakeOidcIssuer"/>: at the issuer too
/// (end_session_endpoint, id_token_hint, post_logout_redirect_uri) when it advertises that, locally otherwise.
/// </summary>
public sealed partial class OidcSignOutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<GatewayApp> StartAppAsync(FakeOidcIssuer issuer) => GatewayApp.StartAsync(s =>
    {
        s["Steward:Auth:Oidc:Authority"] = issuer.Authority;
        s["Steward:Auth:Oidc:ClientId"] = FakeOidcIssuer.ClientId;
        s["Steward:Auth:Oidc:ClientSecret"] = FakeOidcIssuer.ClientSecret;
        s["Steward:Auth:Oidc:RequireHttpsMetadata"] = "false";
        s["Steward:Auth:Oidc:RoleMap:Steward.Admins"] = "admin";
    });

    [Fact]
    public async Task SignOut_IssuerAdvertisesEndSession_SignedOutThereWithTheIdTokenThenBackToSignIn()
    {
        await using var issuer = await FakeOidcIssuer.StartAsync(endSession: true);
        await using var app = await StartAppAsync(issuer);
        using var http = Browser(app);
        await SignInAsync(http);

        var visited = await FollowAsync(http, await PostSignOutAsync(http));
        var page = await http.GetAsync("/history", Ct);

        var (subject, postLogout) = Assert.Single(issuer.SignOuts);
        Assert.Equal("alice-sub", subject);
        Assert.Equal(app.BaseUrl + "/signout-callback-oidc", postLogout);
        Assert.Contains(visited, u => u.AbsolutePath == "/logout" && u.Authority == new Uri(issuer.Authority).Authority);
        Assert.Equal("/signin?signedout=1", visited[^1].PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/signin", new Uri(new Uri(app.BaseUrl), page.Headers.Location!).AbsolutePath);
    }

    [Fact]
    public async Task SignOut_IssuerWithoutEndSession_SignedOutLocally()
    {
        await using var issuer = await FakeOidcIssuer.StartAsync(endSession: false);
        await using var app = await StartAppAsync(issuer);
        using var http = Browser(app);
        await SignInAsync(http);

        var signOut = await PostSignOutAsync(http);
        var page = await http.GetAsync("/history", Ct);

        Assert.Equal("/signin?signedout=1", signOut.Headers.Location!.OriginalString);
        Assert.Empty(issuer.SignOuts);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
    }

    private static HttpClient Browser(GatewayApp app) => new(new LoopbackCookies())
    {
        BaseAddress = new Uri(app.BaseUrl),
    };

    /// <summary>
    /// A browser's cookie jar on loopback: browsers treat http://127.0.0.1 as a secure context and send the handler's
    /// Secure correlation and nonce cookies back; .NET's CookieContainer would not over plain HTTP.
    /// </summary>
    private sealed partial class LoopbackCookies() : DelegatingHandler(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        private readonly CookieContainer _jar = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            if (_jar.GetCookieHeader(uri) is { Length: > 0 } cookies)
            {
                request.Headers.Add("Cookie", cookies);
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (response.Headers.TryGetValues("Set-Cookie", out var set))
            {
                foreach (var cookie in set)
                {
                    _jar.SetCookies(uri, SecureAttribute().Replace(cookie, ""));
                }
            }

            return response;
        }

        [GeneratedRegex(@";\s*secure(?=;|$)", RegexOptions.IgnoreCase)]
        private static partial Regex SecureAttribute();
    }

    /// <summary>Signs in at the issuer as a browser does (the app's challenge, the issuer's authorize, the app's callback).</summary>
    private static async Task SignInAsync(HttpClient http)
    {
        var visited = await FollowAsync(http, await http.GetAsync("/signin/oidc?returnUrl=%2Fhistory", Ct));
        Assert.Equal("/history", visited[^1].PathAndQuery);
        var page = await http.GetAsync("/history", Ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    private static async Task<HttpResponseMessage> PostSignOutAsync(HttpClient http)
    {
        var html = await http.GetStringAsync("/history", Ct);
        var token = AntiforgeryField().Match(html).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "the page carries an antiforgery token");
        var response = await http.PostAsync("/account/signout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token) }), Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response;
    }

    /// <summary>Follows redirects (across the app and the issuer) to the first answer that is not one; returns every address redirected to.</summary>
    private static async Task<List<Uri>> FollowAsync(HttpClient http, HttpResponseMessage response)
    {
        var visited = new List<Uri>();
        var at = response.RequestMessage!.RequestUri!;
        for (var hops = 0; response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther && hops < 10; hops++)
        {
            at = new Uri(at, response.Headers.Location!);
            visited.Add(at);
            if (at.AbsolutePath is "/history" or "/signin")
            {
                break;
            }

            response = await http.GetAsync(at, Ct);
        }

        return visited;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
