using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Playwright;
using OpenAI;
using OpenAI.Chat;

namespace Steward.Web.Tests.Browser;

/// <summary>The Keys page in a real browser: a key made there works with the OpenAI SDK, shows in Analytics, and stops when revoked.</summary>
public sealed class KeysBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(fixture.PolicyViolations);

    [Fact]
    public async Task KeysPage_CreateKey_WorksWithTheSdk_ShowsInAnalytics_RevokeStopsIt()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/keys");

        await page.Locator("[data-testid=key-name] input, input[data-testid=key-name]").FillAsync("browser-made");
        await page.Locator("[data-testid=key-create]").ClickAsync();
        var secret = (await page.Locator("[data-testid=key-secret]").TextContentAsync())!.Trim();
        Assert.StartsWith("sk-stw-", secret, StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("[data-testid=key-row-name]").Filter(new LocatorFilterOptions { HasText = "browser-made" })).ToHaveCountAsync(1);
        await page.ScreenshotAsync("keys-created");

        var chat = new OpenAIClient(new ApiKeyCredential(secret), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.App!.BaseUrl + "/v1"), RetryPolicy = new ClientRetryPolicy(0),
        }).GetChatClient("fake/fake-model");
        var answer = await chat.CompleteChatAsync([new UserChatMessage("Hello?")], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("Hello from the fake model.", answer.Value.Content[0].Text);

        await page.OpenAsync("/analytics");
        await Assertions.Expect(page.Locator("[data-testid=usage-by-key]")).ToContainTextAsync("browser-made");

        await page.OpenAsync("/keys");
        var row = page.Locator("tr").Filter(new LocatorFilterOptions { HasText = "browser-made" });
        await row.Locator("[data-testid=key-revoke]").ClickAsync();
        await Assertions.Expect(row.Locator("[data-testid=key-row-state]")).ToHaveTextAsync("revoked");
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Again?")], cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(401, refused.Status);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
    }
}
