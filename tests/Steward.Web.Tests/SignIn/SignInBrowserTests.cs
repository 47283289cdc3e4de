using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpenAI;
using OpenAI.Chat;
using Steward.Keys;
using Steward.Sessions;

namespace Steward.Web.Tests.SignIn;

/// <summary>Sign-in and roles in a real browser: local accounts, OpenID Connect through the issuer's redirect, and what each role sees.</summary>
public sealed class SignInBrowserTests(SignInBrowserFixture fixture) : IClassFixture<SignInBrowserFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SignIn_WrongPasswordThenRight_LandsOnTheAskedPageAsTheUser()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();

        await page.GotoAsync("/analytics");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
        // The page's own (scoped) styles are served: without them the form is bare, unstyled inputs at the top left.
        await Assertions.Expect(page.Locator(".signin-card")).ToHaveCSSAsync("max-width", "400px");
        await Assertions.Expect(page.Locator("[data-testid=signin-password]")).ToHaveCSSAsync("border-top-style", "solid");
        await page.Locator("[data-testid=signin-name]").FillAsync("olga");
        await page.Locator("[data-testid=signin-password]").FillAsync("not her password");
        await page.Locator("[data-testid=signin-submit]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=signin-error]")).ToHaveTextAsync("Wrong user name or password.");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.BrowserFixture.ScreenshotFolder, "signin-wrong-password.png") });

        await page.Locator("[data-testid=signin-name]").FillAsync("olga");
        await page.Locator("[data-testid=signin-password]").FillAsync(SignInBrowserFixture.Password);
        await page.Locator("[data-testid=signin-submit]").ClickAsync();
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();

        Assert.EndsWith("/analytics", page.Url, StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=signed-in-as]")).ToHaveTextAsync("olga · operator");
        await page.Locator("[data-testid=signout]").ClickAsync();
        await page.WaitForURLAsync("**/signin?signedout=1", new() { WaitUntil = WaitUntilState.Commit });
        Assert.DoesNotContain(SignInBrowserFixture.Password, fixture.App!.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not her password", fixture.App.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Viewer_CannotDeleteASessionFromHistoryNorThroughTheApi()
    {
        fixture.RequireBrowser();
        var sessionId = await StoreASessionAsync();
        var page = await fixture.NewPageAsync();
        await SignInBrowserFixture.SignInAsync(page, "/history", "vera");

        var delete = page.Locator("[data-testid=delete]").First;
        await Assertions.Expect(delete).ToBeDisabledAsync();
        await Assertions.Expect(page.Locator("[data-testid=export]").First).ToBeDisabledAsync();
        await Assertions.Expect(page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]")).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.BrowserFixture.ScreenshotFolder, "signin-viewer-history.png") });
        var api = await page.APIRequest.DeleteAsync($"/api/sessions/{sessionId}");

        Assert.Equal(403, api.Status);
        Assert.Contains("This needs the admin role; yours is viewer.", await api.TextAsync(), StringComparison.Ordinal);
        await using var engine = await fixture.EngineAsync();
        Assert.Contains(await engine.GetRequiredService<SessionStore>().ListAsync(null, 0, 100, Ct), s => s.Id == sessionId);
    }

    [Fact]
    public async Task Viewer_ChatInputDisabledAndSaysWhy()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await SignInBrowserFixture.SignInAsync(page, "/", "vera");

        await Assertions.Expect(page.Locator("[data-testid=send]")).ToBeDisabledAsync();
        await Assertions.Expect(page.GetByText("Chatting needs the operator role.")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Admin_CreatesAKeyOnTheKeysPage_ThatWorksWithTheSdkAndOnTheApi()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await SignInBrowserFixture.SignInAsync(page, "/keys", "root");

        await page.Locator("[data-testid=key-name] input, input[data-testid=key-name]").FillAsync("made-by-admin");
        await page.Locator("[data-testid=key-role]").ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = "operator" }).ClickAsync();
        await page.Locator("[data-testid=key-create]").ClickAsync();
        var secret = (await page.Locator("[data-testid=key-secret]").TextContentAsync())!.Trim();

        var chat = new OpenAIClient(new ApiKeyCredential(secret), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.App!.BaseUrl + "/v1"), RetryPolicy = new ClientRetryPolicy(0),
        }).GetChatClient("scripted");
        var answer = await chat.CompleteChatAsync([new UserChatMessage("Hello?")], cancellationToken: Ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.App.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        var export = await http.GetAsync("/api/runs/export?format=csv", Ct);
        var delete = await http.DeleteAsync($"/api/sessions/{Guid.NewGuid()}", Ct);

        Assert.Equal("Hello from the fake model.", answer.Value.Content[0].Text);
        Assert.Equal(System.Net.HttpStatusCode.OK, export.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, delete.StatusCode);
        await Assertions.Expect(page.Locator("tr").Filter(new LocatorFilterOptions { HasText = "made-by-admin" })).ToContainTextAsync("operator");
    }

    [Fact]
    public async Task Operator_SeesTheKeysButCannotCreateThem()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await SignInBrowserFixture.SignInAsync(page, "/keys", "olga");

        await Assertions.Expect(page.Locator("[data-testid=keys-readonly]")).ToContainTextAsync("needs the admin role");
        await Assertions.Expect(page.Locator("[data-testid=key-create]")).ToBeDisabledAsync();
    }

    [Fact]
    public async Task Oidc_SignsInThroughTheIssuersRedirectWithTheMappedRole()
    {
        fixture.RequireBrowser();
        fixture.Issuer!.NextUser = new FakeOidcUser("alice-sub", "alice@example.com", ["Steward.Admins", "Everyone"]);
        var page = await fixture.NewPageAsync();

        await page.GotoAsync("/keys");
        await page.Locator("[data-testid=signin-oidc]").ClickAsync();
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();

        Assert.EndsWith("/keys", page.Url, StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=signed-in-as]")).ToHaveTextAsync("alice@example.com · admin");
        await Assertions.Expect(page.Locator("[data-testid=key-create]")).ToBeEnabledAsync();
        Assert.Equal(0, fixture.Issuer.RejectedTokenRequests);
        Assert.DoesNotContain(FakeOidcIssuer.ClientSecret, fixture.App!.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oidc_UserWithoutAStewardRole_RefusedAndToldWhy()
    {
        fixture.RequireBrowser();
        fixture.Issuer!.NextUser = new FakeOidcUser("bob-sub", "bob@example.com", ["Everyone"]);
        var page = await fixture.NewPageAsync();

        await page.GotoAsync("/history");
        await page.Locator("[data-testid=signin-oidc]").ClickAsync();
        // The address is what this waits for; what the page then shows is waited for by the assertions that follow (a
        // load event under the whole suite's load could take longer than the 30 s timeout, and is not the behaviour).
        await page.WaitForURLAsync("**/signin?error=norole", new() { WaitUntil = WaitUntilState.Commit });

        await Assertions.Expect(page.Locator("[data-testid=signin-error]")).ToContainTextAsync("has no Steward role");
        var history = await page.APIRequest.GetAsync("/api/runs/export?format=csv");
        Assert.Equal(401, history.Status);
    }

    /// <summary>A session in History, made the way an application makes one: a request to the gateway with a key.</summary>
    private async Task<Guid> StoreASessionAsync()
    {
        await using var engine = await fixture.EngineAsync();
        var secret = (await engine.GetRequiredService<ApiKeyStore>().CreateAsync(new ApiKeySpec { Name = "app-" + Guid.NewGuid().ToString("N")[..8] }, Ct)).Secret;
        var chat = new OpenAIClient(new ApiKeyCredential(secret), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.App!.BaseUrl + "/v1"), RetryPolicy = new ClientRetryPolicy(0),
        }).GetChatClient("scripted");
        var answer = await chat.CompleteChatAsync([new UserChatMessage("Keep this?")], cancellationToken: Ct);
        var runId = Guid.Parse(answer.GetRawResponse().Headers.TryGetValue("x-steward-run-id", out var id) ? id! : throw new InvalidOperationException("no run id"));
        var sessions = engine.GetRequiredService<SessionStore>();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            foreach (var session in await sessions.ListAsync(null, 0, 100, Ct))
            {
                var detail = await sessions.GetAsync(session.Id, Ct);
                if (detail.Runs.Any(r => r.Id == runId))
                {
                    return session.Id;
                }
            }

            await Task.Delay(100, Ct);
        }

        throw new InvalidOperationException("The gateway's run never reached History.");
    }
}
