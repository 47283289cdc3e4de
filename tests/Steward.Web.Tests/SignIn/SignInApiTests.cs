using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Steward.Keys;
using Steward.Users;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.SignIn;

/// <summary>
/// Sign-in over plain HTTP against the app as <c>Program.cs</c> builds it, with local accounts on: the forms (with their
/// antiforgery tokens), the cookie, role keys on <c>/api</c>, and what each role may do there.
/// </summary>
public sealed partial class SignInApiTests : IAsyncLifetime
{
    private GatewayApp _app = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _app = await GatewayApp.StartAsync(s => s["Steward:Auth:LocalAccounts"] = "true");

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private UserStore Users => _app.Services.GetRequiredService<UserStore>();

    private HttpClient Browser() => new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
    {
        BaseAddress = new Uri(_app.BaseUrl),
    };

    /// <summary>Posts a page's form as a browser would: the antiforgery token from the page, the cookie from the handler.</summary>
    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient http, string page, string action, Dictionary<string, string> fields)
    {
        var html = await http.GetStringAsync(page, Ct);
        var token = AntiforgeryField().Match(html).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "the form carries an antiforgery token");
        fields["__RequestVerificationToken"] = WebUtility.HtmlDecode(token);
        return await http.PostAsync(action, new FormUrlEncodedContent(fields), Ct);
    }

    private static Task<HttpResponseMessage> SignInAsync(HttpClient http, string name, string password) =>
        PostFormAsync(http, "/signin", "/account/signin", new() { ["name"] = name, ["password"] = password, ["returnUrl"] = "/history" });

    [Fact]
    public async Task Pages_NotSignedIn_RedirectToSignInAndApiAnswers401()
    {
        await Users.CreateAsync("root", "correct horse battery", StewardRoles.Admin, Ct);
        using var http = Browser();

        var page = await http.GetAsync("/history", Ct);
        var api = await http.GetAsync("/api/runs/export?format=csv", Ct);

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/signin", page.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal("application/problem+json", api.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task SignIn_RightPassword_CookieOpensPagesAndApi()
    {
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Operator, Ct);
        using var http = Browser();

        var signIn = await SignInAsync(http, "olga", "correct horse battery");
        var page = await http.GetAsync("/history", Ct);
        var export = await http.GetAsync("/api/runs/export?format=csv", Ct);
        var delete = await http.DeleteAsync($"/api/sessions/{Guid.NewGuid()}", Ct);

        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.Equal("/history", signIn.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        Assert.Contains("This needs the admin role; yours is operator.", await delete.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_WrongPassword_BackToTheFormWithoutACookie()
    {
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Operator, Ct);
        using var http = Browser();

        var signIn = await SignInAsync(http, "olga", "wrong password here");
        var page = await http.GetAsync("/history", Ct);
        var form = await http.GetStringAsync(signIn.Headers.Location, Ct);

        Assert.StartsWith("/signin?error=wrong", signIn.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("Wrong user name or password.", form, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong password here", form, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_WithoutAntiforgeryToken_RefusedAndNotCounted()
    {
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Operator, Ct);
        using var http = Browser();

        var forged = await http.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = "olga", ["password"] = "correct horse battery",
        }), Ct);
        var page = await http.GetAsync("/history", Ct);

        Assert.Equal("/signin?error=expired", forged.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
    }

    [Fact]
    public async Task SignIn_RepeatedFailures_LockTheAccountEvenForTheRightPassword()
    {
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Operator, Ct);
        using var http = Browser();
        for (var i = 0; i < UserStore.MaxFailedSignIns; i++)
        {
            await SignInAsync(http, "olga", "guess number " + i);
        }

        var right = await SignInAsync(http, "olga", "correct horse battery");

        Assert.StartsWith("/signin?error=locked", right.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains("locked", await http.GetStringAsync(right.Headers.Location, Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cookie_AfterTheRoleChanges_NoLongerAccepted()
    {
        await Users.CreateAsync("root", "correct horse battery", StewardRoles.Admin, Ct);
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Admin, Ct);
        using var http = Browser();
        await SignInAsync(http, "olga", "correct horse battery");

        await Users.SetRoleAsync("olga", "viewer", Ct);
        var api = await http.GetAsync("/api/runs/export?format=csv", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        await Users.CreateAsync("olga", "correct horse battery", StewardRoles.Operator, Ct);
        using var http = Browser();
        await SignInAsync(http, "olga", "correct horse battery");

        var signOut = await PostFormAsync(http, "/history", "/account/signout", []);
        var page = await http.GetAsync("/history", Ct);

        Assert.StartsWith("/signin", signOut.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
    }

    [Fact]
    public async Task FirstRun_FromThisMachine_MakesTheAdminOnceThenCloses()
    {
        using var http = Browser();

        var toSetup = await http.GetAsync("/signin", Ct);
        var created = await PostFormAsync(http, "/setup", "/account/setup", new()
        {
            ["name"] = "root", ["password"] = "correct horse battery", ["confirm"] = "correct horse battery",
        });
        var page = await http.GetAsync("/keys", Ct);
        using var other = Browser();
        var closedPage = await other.GetStringAsync("/setup", Ct);
        // The page no longer has a form; a token from the sign-in page is valid, so only the closed first run refuses this.
        var again = await PostFormAsync(other, "/signin", "/account/setup", new()
        {
            ["name"] = "intruder", ["password"] = "correct horse battery", ["confirm"] = "correct horse battery",
        });

        Assert.Equal("/setup", new Uri(new Uri(_app.BaseUrl), toSetup.Headers.Location!).AbsolutePath);
        Assert.Equal("/", created.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("setup-closed", closedPage, StringComparison.Ordinal);
        Assert.Equal("/signin", again.Headers.Location!.OriginalString);
        Assert.Equal([("root", "admin")], (await Users.ListAsync(Ct)).Select(u => (u.Name, u.Role)));
    }

    [Fact]
    public async Task FirstRun_ThroughAProxy_NeedsTheSetupToken()
    {
        using var http = Browser();
        http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.9");

        var refused = await PostFormAsync(http, "/setup", "/account/setup", new()
        {
            ["name"] = "root", ["password"] = "correct horse battery", ["confirm"] = "correct horse battery",
        });

        Assert.Equal("/setup?error=token", refused.Headers.Location!.OriginalString);
        Assert.False(await Users.AnyAsync(Ct));
    }

    [Theory]
    [InlineData("viewer", HttpStatusCode.OK, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden)]
    [InlineData("operator", HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Forbidden)]
    [InlineData("admin", HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.NotFound)]
    public async Task Api_RoleKey_AllowedWhatItsRoleAllows(string role, HttpStatusCode read, HttpStatusCode export, HttpStatusCode delete)
    {
        var secret = (await _app.Services.GetRequiredService<ApiKeyStore>().CreateAsync(new ApiKeySpec { Name = "script-" + role, Role = role }, Ct)).Secret;
        using var http = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        var runId = Guid.NewGuid();

        var feedback = await http.GetAsync($"/api/runs/{runId}/feedback", Ct);
        var exported = await http.GetAsync("/api/runs/export?format=csv", Ct);
        var deleted = await http.DeleteAsync($"/api/sessions/{Guid.NewGuid()}", Ct);

        // A read of a run that does not exist is 404, which is past the role check.
        Assert.Equal(read, feedback.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.OK : feedback.StatusCode);
        Assert.Equal(export, exported.StatusCode);
        Assert.Equal(delete, deleted.StatusCode);
    }

    [Fact]
    public async Task Api_GatewayKeyWithoutRole_RefusedWithHowToMakeOne()
    {
        var secret = (await _app.Services.GetRequiredService<ApiKeyStore>().CreateAsync(new ApiKeySpec { Name = "gateway" }, Ct)).Secret;
        using var http = new HttpClient { BaseAddress = new Uri(_app.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);

        var api = await http.GetAsync("/api/runs/export?format=csv", Ct);
        var body = await api.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Contains("gateway key, accepted on /v1 only", body, StringComparison.Ordinal);
        Assert.Contains("--role", body, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_StillTakesItsVirtualKeysWhenSignInIsOn()
    {
        var secret = (await _app.Services.GetRequiredService<ApiKeyStore>().CreateAsync(new ApiKeySpec { Name = "gateway" }, Ct)).Secret;

        var models = await _app.Client(secret).GetOpenAIModelClient().GetModelsAsync(Ct);

        Assert.Contains(models.Value, m => m.Id == "assistant");
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
