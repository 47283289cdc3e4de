using Microsoft.Playwright;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>Conversations over several turns in a real browser: reopened, continued, failed in the middle.</summary>
public sealed class ConversationBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Chat_ReopenedSession_KeepsBadgesCardsTraceLinksAndTheFailedTurn()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["The first ", "answer."] };
        await page.AskAsync("First question");
        await page.WaitForSessionAddressAsync();
        fixture.ModelServer.Reply = _ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("The upstream model crashed.", "server_error")) };
        await page.AskAsync("Second question");
        var sessionId = (await page.WaitForSessionAddressAsync())[^36..];

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

    [Fact]
    public async Task Chat_SessionDeletedElsewhere_NextTurnSaysSoInTheWebsOwnWords()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["An answer."] };
        await page.AskAsync("First question");
        var sessionId = (await page.WaitForSessionAddressAsync())[^36..];
        // Deleted from another tab (or the command line) while this page still shows it.
        using (var http = new HttpClient { BaseAddress = new Uri(fixture.App!.BaseUrl) })
        {
            Assert.True((await http.DeleteAsync($"/api/sessions/{sessionId}", TestContext.Current.CancellationToken)).IsSuccessStatusCode);
        }

        await page.AskAsync("Second question");

        var error = page.Locator("[data-testid=assistant-message]").Nth(1).Locator("[data-testid=run-error]");
        await Assertions.Expect(error).ToContainTextAsync("it may have been deleted");
        Assert.DoesNotContain("steward sessions list", await error.InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agents_LiveEditBreaksAPreset_ThePageSaysSoAndKeepsTheLastGoodVersion()
    {
        fixture.RequireBrowser();
        var file = Path.Combine(Path.GetDirectoryName(fixture.DatabasePath)!, "agents", "editable.yaml");
        await File.WriteAllTextAsync(file, "name: editable\ndisplay_name: Editable\ninstructions: Good.\n", TestContext.Current.CancellationToken);
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/agents");
        await Assertions.Expect(page.Locator("[data-testid=preset][data-preset=editable]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=preset-problem]")).ToHaveCountAsync(0);

        try
        {
            await File.WriteAllTextAsync(file, "name: editable\ndisplay_name: Editable\ninstructions: [broken by an edit\n", TestContext.Current.CancellationToken);
            await page.OpenAsync("/agents");

            var problem = page.Locator("[data-testid=preset-problem][data-preset=editable]");
            await Assertions.Expect(problem).ToContainTextAsync("last good version stays in use");
            await Assertions.Expect(problem).ToContainTextAsync("editable.yaml");
            await Assertions.Expect(page.Locator("[data-testid=preset][data-preset=editable]")).ToBeVisibleAsync();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Chat_StoppedMidAnswer_CardsHistoryAndReopenedChatShowWhatWasGenerated()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply
        {
            Chunks = ["Part one of a long answer, ", "part two, ", "part three, ", "and more."], HangAfterChunks = 3,
        };
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        await page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync("Stop me");
        await page.Locator("[data-testid=send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=answer]").Last).ToContainTextAsync("part three");
        await page.Locator("[data-testid=stop]").ClickAsync();
        var live = page.Locator("[data-testid=assistant-message][data-finished=true]").Last;
        await Assertions.Expect(live.Locator("[data-stage=Cancelled]")).ToHaveAttributeAsync("data-state", "Failed");
        Assert.NotEqual("0", (await live.Locator("[data-metric=output] .metric-value").InnerTextAsync()).Trim());
        // The address changes once the stopped run is stored; on a loaded machine that can take a while.
        var sessionId = (await page.WaitForSessionAddressAsync())[^36..];

        foreach (var path in new[] { $"/history/{sessionId}", $"/chat/{sessionId}" })
        {
            await page.OpenAsync(path);
            var stored = page.Locator("[data-testid=assistant-message][data-status=Cancelled]");
            await Assertions.Expect(stored).ToHaveCountAsync(1);
            await Assertions.Expect(stored.Locator("[data-testid=answer]")).ToContainTextAsync("part three");
            Assert.NotEqual("0", (await stored.Locator("[data-metric=output] .metric-value").InnerTextAsync()).Trim());
        }
    }

    [Fact]
    public async Task Chat_LinkToAnUnknownAgent_SaysSoInsteadOfFallingBackSilently()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=nobody");

        await Assertions.Expect(page.Locator("[data-testid=preset-unknown]")).ToContainTextAsync("There is no agent named 'nobody'");
    }

    [Fact]
    public async Task Chat_TabClosedMidRun_RunIsStoredCancelledWithoutCircuitErrorsInTheLog()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["Still ", "going ", "on"], HangAfterChunks = 2 };
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        var logBefore = fixture.App!.Output.Length;
        await page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync("Closed mid-run");
        await page.Locator("[data-testid=send]").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=answer]").Last).ToContainTextAsync("going");

        // As a person closes a tab: the page unloads, and Blazor tells the server the circuit is gone.
        await page.CloseAsync(new PageCloseOptions { RunBeforeUnload = true });

        // The run ends as cancelled once the circuit is gone; the log says nothing of components or circuits failing.
        var deadline = DateTime.UtcNow.AddSeconds(45);
        var ended = false;
        while (!ended && DateTime.UtcNow < deadline)
        {
            ended = await RunEndedAsync();
        }

        Assert.True(ended, "the run closed with its tab was not stored as cancelled");
        var log = fixture.App.Output[logBefore..];
        Assert.DoesNotContain("Unhandled exception", log, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("fail: Microsoft.AspNetCore.Components", log, StringComparison.Ordinal);
        Assert.DoesNotContain("ObjectDisposedException", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_GivenInChat_AppearsInHistoryAndTheExport()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["A rated ", "answer."] };
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        await page.AskAsync("Question to rate");
        var sessionId = (await page.WaitForSessionAddressAsync())[^36..];

        var live = page.Locator("[data-testid=assistant-message]").Last;
        await live.Locator("[data-testid=feedback-down]").ClickAsync();
        await Assertions.Expect(live.Locator("[data-testid=feedback]")).ToHaveAttributeAsync("data-rating", "Down");
        await live.Locator("[data-testid=feedback-comment] input, input[data-testid=feedback-comment]").FillAsync("Missed the point.");
        await live.Locator("[data-testid=feedback-save]").ClickAsync();
        await Assertions.Expect(live.Locator("[data-testid=feedback-saved-comment]")).ToContainTextAsync("Missed the point.");

        await page.OpenAsync($"/history/{sessionId}");
        var stored = page.Locator("[data-testid=assistant-message]").Last;
        await Assertions.Expect(stored.Locator("[data-testid=feedback]")).ToHaveAttributeAsync("data-rating", "Down");
        await Assertions.Expect(stored.Locator("[data-testid=feedback-saved-comment]")).ToContainTextAsync("Missed the point.");

        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("[data-testid=export]").ClickAsync());
        var export = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(await download.PathAsync(), TestContext.Current.CancellationToken))!;
        var feedback = export["runs"]![0]!["feedback"]!;
        Assert.Equal(("Down", "Missed the point.", "web"),
            (feedback["rating"]!.GetValue<string>(), feedback["comment"]!.GetValue<string>(), feedback["source"]!.GetValue<string>()));

        await page.OpenAsync("/history");
        await page.Locator("[data-testid=history-search] input, input[data-testid=history-search]").FillAsync("Question to rate");
        await Assertions.Expect(page.Locator("[data-testid=session-feedback]").First).ToContainTextAsync("👎 1");
    }

    [Fact]
    public async Task Chat_SixTurnsOnStories260K_EveryTurnCompletesWithTheOldestLeftOutAndSaid()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=storyteller");
        for (var turn = 1; turn <= 6; turn++)
        {
            // Long turns, so that six of them with their answers outgrow the model's 2,048-token window.
            await page.AskAsync($"Turn {turn}: " + string.Concat(Enumerable.Repeat("Once upon a time there was a little bird who wanted to fly over the big blue sea. ", 14)));
            var answer = page.Locator("[data-testid=assistant-message]").Last;
            Assert.Equal("Succeeded", await answer.Locator("[data-stage=Completed]").GetAttributeAsync("data-state"));
        }

        // Later turns are sent without the oldest messages, and the progress log says so.
        var notes = await page.Locator("[data-testid=progress-log]").AllInnerTextsAsync();
        await page.Locator("[data-testid=progress-log]").Last.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=assistant-message]").Last.Locator("[data-testid=progress-log]"))
            .ToContainTextAsync("oldest message");
        Assert.Equal(6, notes.Count);
    }

    // Read straight from the app's database: the session's address is only known to the page once the run has ended.
    private async Task<bool> RunEndedAsync()
    {
        await Task.Delay(500, TestContext.Current.CancellationToken);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.DatabasePath};Mode=ReadOnly");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT Status FROM runs WHERE Query = 'Closed mid-run'";
        return await command.ExecuteScalarAsync(TestContext.Current.CancellationToken) is "Cancelled";
    }
}
