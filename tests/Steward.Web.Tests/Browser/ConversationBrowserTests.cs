using Microsoft.Playwright;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>Conversations over several turns in a real browser: reopened, continued, failed in the middle.</summary>
public sealed class ConversationBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private static readonly System.Text.RegularExpressions.Regex SessionAddress =
        new("/chat/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

    [Fact]
    public async Task Chat_ReopenedSession_KeepsBadgesCardsTraceLinksAndTheFailedTurn()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["The first ", "answer."] };
        await page.AskAsync("First question");
        await page.WaitForURLAsync(SessionAddress);
        fixture.ModelServer.Reply = _ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("The upstream model crashed.", "server_error")) };
        await page.AskAsync("Second question");
        var sessionId = page.Url[^36..];

        var reopened = await fixture.NewPageAsync();
        await reopened.OpenAsync($"/chat/{sessionId}");
        var answers = reopened.Locator("[data-testid=assistant-message]");
        await Assertions.Expect(answers).ToHaveCountAsync(2);

        var first = answers.Nth(0);
        await Assertions.Expect(first.Locator("[data-testid=answer]")).ToContainTextAsync("The first answer.");
        Assert.Equal("Succeeded", await first.Locator("[data-stage=Completed]").GetAttributeAsync("data-state"));
        Assert.Equal("7", (await first.Locator("[data-metric=output] .metric-value").InnerTextAsync()).Trim());
        Assert.Matches("traces/[0-9a-f-]{36}$", await first.Locator("[data-testid=trace-link]").GetAttributeAsync("href") ?? "");

        var second = answers.Nth(1);
        Assert.Equal("Failed", await second.Locator("[data-stage=Failed]").GetAttributeAsync("data-state"));
        await Assertions.Expect(second.Locator("[data-testid=run-error]")).ToBeVisibleAsync();
        await Assertions.Expect(second.Locator("[data-testid=trace-link]")).ToBeVisibleAsync();
        await Assertions.Expect(reopened.Locator("[data-testid=user-message]").Nth(1)).ToContainTextAsync("Second question");

        // History's read-only view shows the same turns.
        await reopened.OpenAsync($"/history/{sessionId}");
        await Assertions.Expect(reopened.Locator("[data-testid=assistant-message]")).ToHaveCountAsync(2);
        await Assertions.Expect(reopened.Locator("[data-testid=assistant-message]").Nth(1).Locator("[data-testid=run-error]")).ToBeVisibleAsync();
    }
}
