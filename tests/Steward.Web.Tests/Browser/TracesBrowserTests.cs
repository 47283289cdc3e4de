using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Steward.Storage;
using Steward.Tests.TestSupport;
using Steward.Web.Tests.Queries;

namespace Steward.Web.Tests.Browser;

/// <summary>Traces for many runs: every run of a long session opens, and a filtered list pages through all matches.</summary>
public sealed class TracesBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Traces_EveryRunOfA30RunSession_OpensIncludingFailedAndCancelled()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        for (var i = 0; i < 30; i++)
        {
            if (i % 10 == 4)
            {
                fixture.ModelServer!.Reply = _ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("The upstream model crashed.", "server_error")) };
                await page.AskAsync($"Turn {i}");
            }
            else if (i % 10 == 7)
            {
                fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["Half ", "an ", "answer"], HangAfterChunks = 2 };
                await page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync($"Turn {i}");
                await page.Locator("[data-testid=send]").ClickAsync();
                await Assertions.Expect(page.Locator("[data-testid=answer]").Last).ToContainTextAsync("an");
                await page.Locator("[data-testid=stop]").ClickAsync();
                await page.Locator("[data-testid=assistant-message][data-finished=true]").Nth(i).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            }
            else
            {
                fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = [$"Answer {i}."] };
                await page.AskAsync($"Turn {i}");
            }
        }

        var links = await page.Locator("[data-testid=trace-link]").EvaluateAllAsync<string[]>("links => links.map(l => l.getAttribute('href'))");
        Assert.Equal(30, links.Length);
        var statuses = new List<string>();
        foreach (var link in links)
        {
            await page.GotoAsync("/" + link);
            await page.Locator("[data-testid=waterfall] [data-testid=span], [data-testid=trace-problem]").First.WaitForAsync();
            Assert.Equal(0, await page.GetByText("Something went wrong").CountAsync());
            Assert.Equal(0, await page.Locator("[data-testid=trace-problem]").CountAsync());
            statuses.Add(await page.Locator("[data-testid=trace-run][aria-current=page]").GetAttributeAsync("data-status") ?? "");
        }

        Assert.Contains("Failed", statuses);
        Assert.Contains("Cancelled", statuses);
        Assert.Contains("Completed", statuses);
    }

    [Fact]
    public async Task Traces_FilteredByStatus_PagesThroughAll200Matches()
    {
        fixture.RequireBrowser();
        // The app is shared with the other browser tests, whose failed runs count too.
        var failedBefore = await StoreRunsAsync(400);
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/traces?status=Failed");
        await Assertions.Expect(page.Locator("[data-testid=trace-runs-total]")).ToContainTextAsync($"of {failedBefore + 200} runs");
        var seen = new HashSet<string>();
        for (var p = 1; p <= 4; p++)
        {
            if (p > 1)
            {
                await page.Locator($"[data-testid=trace-pages] button[aria-label='Page {p}'], [data-testid=trace-pages] button:text-is('{p}')").First.ClickAsync();
                await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"page={p}"));
                await Assertions.Expect(page.Locator("[data-testid=trace-runs-total]")).ToContainTextAsync($"{(p - 1) * 50 + 1}–");
            }

            var rows = page.Locator("[data-testid=trace-run]");
            await Assertions.Expect(rows).ToHaveCountAsync(50);
            Assert.All(await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.status)"), s => Assert.Equal("Failed", s));
            foreach (var href in await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.getAttribute('href'))"))
            {
                seen.Add(href);
            }
        }

        Assert.Equal(200, seen.Count);
        Assert.Contains("status=Failed", page.Url, StringComparison.Ordinal);
    }

    // 400 stored runs (half failed) through the engine's own storage, as an older busy install would have them; returns
    // how many failed runs were stored before.
    private Task<int> StoreRunsAsync(int count) => fixture.WithDatabaseAsync(async db =>
    {
        var failedBefore = await db.Runs.CountAsync(r => r.Status == "Failed");
        var start = new DateTime(2026, 11, 1, 9, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < count; i++)
        {
            var run = QueryTestDatabase.Run($"bulk question {i}", start.AddMinutes(i), status: i % 2 == 0 ? "Failed" : "Completed");
            db.Add(QueryTestDatabase.Session($"bulk {i}", "p", start.AddMinutes(i), run));
        }

        return failedBefore;
    });
}
