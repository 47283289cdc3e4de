using System.Text.Json;
using Microsoft.Playwright;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>The UI in a real browser (Debian chromium, headless) against the app started as a process.</summary>
public sealed class BrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>, IDisposable
{
    /// <summary>Whatever a test did, no page of it reported a Content-Security-Policy violation.</summary>
    public void Dispose() => Assert.Empty(fixture.PolicyViolations);

    private const string RecordAnswerLengths = """
        () => {
          window.__answerLengths = [];
          window.__currentStages = [];
          new MutationObserver(() => {
            const answers = document.querySelectorAll('[data-testid=answer]');
            const last = answers[answers.length - 1];
            if (last) window.__answerLengths.push(last.textContent.trim().length);
            document.querySelectorAll('[data-state=Current]').forEach(b => window.__currentStages.push(b.dataset.stage));
          }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        }
        """;

    [Fact]
    public async Task Chat_EmbeddedModel_StreamsTextThroughStagesAndShowsMetricCards()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=storyteller");
        await page.EvaluateAsync(RecordAnswerLengths);

        await page.AskAsync("Once upon a time");

        var answer = page.Locator("[data-testid=assistant-message]").Last;
        var text = (await answer.Locator("[data-testid=answer]").InnerTextAsync()).Trim();
        Assert.False(string.IsNullOrWhiteSpace(text), "the embedded model gave no text");
        var lengths = await page.EvaluateAsync<int[]>("() => window.__answerLengths");
        var partial = lengths.Where(l => l > 0 && l < text.Length).Distinct().Count();
        Assert.True(partial >= 1, $"the answer never showed partially before it was complete (lengths seen: {string.Join(",", lengths.Distinct())})");
        var current = await page.EvaluateAsync<string[]>("() => window.__currentStages");
        Assert.Contains("Running", current);

        Assert.Equal("Succeeded", await answer.Locator("[data-stage=Completed]").GetAttributeAsync("data-state"));
        foreach (var stage in new[] { "Initializing", "CheckingBudget", "Running" })
        {
            Assert.Equal("Done", await answer.Locator($"[data-stage={stage}]").GetAttributeAsync("data-state"));
        }

        var output = await answer.Locator("[data-metric=output] .metric-value").InnerTextAsync();
        Assert.True(long.Parse(output.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) > 0, $"output tokens shown: {output}");
        Assert.NotEqual("0", (await answer.Locator("[data-metric=input] .metric-value").InnerTextAsync()).Trim());
        Assert.Contains("self-hosted", await answer.Locator("[data-metric=cost] .metric-value").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Matches(@"\d+(\.\d+)? (ms|s)", await answer.Locator("[data-metric=ttft] .metric-value").InnerTextAsync());
        await page.WaitForSessionAddressAsync();
        await page.ScreenshotAsync("chat");
    }

    [Fact]
    public async Task Chat_ModelOutputWithScriptAndImageHandlers_IsRenderedInert()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply
        {
            Chunks = ["Here: <script>window.__xss = 'script'</script> ", "<img src=x onerror=\"window.__xss = 'img'\"> ", "[click me](javascript:window.__xss='link') **bold**"],
        };
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");

        await page.AskAsync("Say something dangerous");

        var answer = page.Locator("[data-testid=assistant-message]").Last.Locator("[data-testid=answer]");
        Assert.Contains("<script>", await answer.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await answer.Locator("script").CountAsync());
        Assert.Equal(0, await answer.Locator("img").CountAsync());
        Assert.Equal(0, await answer.Locator("[onerror]").CountAsync());
        Assert.Equal(0, await answer.Locator("a[href^='javascript']").CountAsync());
        Assert.Equal(1, await answer.Locator("strong").CountAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__xss ?? null"));
        await page.ScreenshotAsync("chat-untrusted-output");
    }

    [Fact]
    public async Task Chat_ToolNeedingApproval_ShowsTheCallLiveIsApprovedByAClickAndCitesAsLinks()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = FakeModelServer.CallToolThenAnswer("web_search", """{"query":"fast charging Europe"}""", "Fast charging hubs line the highways ", "[1].");
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=researcher");

        await page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync("Where are the fast chargers?");
        await page.Locator("[data-testid=send]").ClickAsync();

        // The call shows while the run waits for the person: its name and arguments, still running.
        var answer = page.Locator("[data-testid=assistant-message]").Last;
        var approval = answer.Locator("[data-testid=approval]");
        await Assertions.Expect(approval).ToBeVisibleAsync();
        await Assertions.Expect(approval).ToContainTextAsync("web_search");
        await Assertions.Expect(approval.Locator("[data-testid=approval-arguments]")).ToContainTextAsync("fast charging Europe");
        var call = answer.Locator("[data-testid=tool-call][data-tool=web_search]");
        await Assertions.Expect(call).ToHaveAttributeAsync("data-state", "running");
        Assert.Equal("false", await answer.GetAttributeAsync("data-finished"));
        await page.ScreenshotAsync("chat-tool-approval");

        await approval.Locator("[data-testid=approve]").ClickAsync();

        await page.Locator("[data-testid=assistant-message][data-finished=true]").Last.WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
        await Assertions.Expect(call).ToHaveAttributeAsync("data-state", "done");
        await Assertions.Expect(call.Locator("[data-testid=tool-approval]")).ToHaveTextAsync("approved");
        await Assertions.Expect(call.Locator("[data-testid=tool-result]")).ToContainTextAsync("[1] Charging networks in Europe");
        await Assertions.Expect(approval).ToHaveCountAsync(0);
        var link = answer.Locator("[data-testid=citations] a");
        await Assertions.Expect(link).ToHaveAttributeAsync("href", BrowserFixture.CitedUrl);
        await Assertions.Expect(link).ToHaveTextAsync("Charging networks in Europe");
        await page.ScreenshotAsync("chat-tool-call");

        // The session view shows the same call and sources.
        var address = await page.WaitForSessionAddressAsync();
        await page.OpenAsync($"/history/{address[^36..]}");
        await Assertions.Expect(page.Locator("[data-testid=tool-call][data-tool=web_search]")).ToHaveAttributeAsync("data-state", "done");
        await Assertions.Expect(page.Locator("[data-testid=citations] a")).ToHaveAttributeAsync("href", BrowserFixture.CitedUrl);
    }

    [Fact]
    public async Task History_ExportDownload_MatchesTheSessionOnScreen()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["The export ", "answer."] };
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=scripted");
        await page.AskAsync("Question for the export test");
        // The chat moves to the new session's address once the run has created it; on a loaded machine that can
        // land after the answer is on screen.
        var sessionId = (await page.WaitForSessionAddressAsync())[^36..];

        await page.OpenAsync($"/history/{sessionId}");
        await page.Locator("[data-testid=session-heading]").WaitForAsync();
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("[data-testid=export]").ClickAsync());
        var path = await download.PathAsync();

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
        var root = document.RootElement;
        Assert.Equal(Steward.Sessions.SessionExportDocument.CurrentSchemaVersion, root.GetProperty("schema_version").GetInt32());
        Assert.Equal(sessionId, root.GetProperty("session").GetProperty("id").GetString());
        Assert.Equal(await page.Locator("[data-testid=session-heading]").InnerTextAsync(), root.GetProperty("session").GetProperty("title").GetString());
        var messages = root.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())).ToArray();
        Assert.Equal([("user", "Question for the export test"), ("assistant", "The export answer.")], messages);
        var run = Assert.Single(root.GetProperty("runs").EnumerateArray());
        Assert.Equal("Completed", run.GetProperty("status").GetString());
        Assert.DoesNotContain("sk-test-not-a-secret", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken), StringComparison.Ordinal);
        await page.ScreenshotAsync("session");
    }

    [Fact]
    public async Task History_Search_ShowsOnlyMatchingSessions()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["Noted."] };
        var page = await fixture.NewPageAsync();
        var marker = Guid.NewGuid().ToString("N")[..10];
        await page.OpenAsync("/?preset=scripted");
        await page.AskAsync($"Penguins on ice {marker}");
        await page.OpenAsync("/?preset=scripted");
        await page.AskAsync($"Camels in the desert {marker}");

        await page.OpenAsync("/history");
        await page.Locator("[data-testid=history-search] input, input[data-testid=history-search]").FillAsync($"desert {marker}");
        var titles = page.Locator("[data-testid=session-title]");
        await Assertions.Expect(titles).ToHaveCountAsync(1);
        Assert.Contains("Camels", await titles.First.InnerTextAsync(), StringComparison.Ordinal);

        await page.Locator("[data-testid=history-search] input, input[data-testid=history-search]").FillAsync(marker);
        await Assertions.Expect(titles).ToHaveCountAsync(2);
        await page.ScreenshotAsync("history");
    }

    [Fact]
    public async Task Analytics_AfterRuns_DrawsChartsWithData()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=storyteller");
        await page.AskAsync("Once upon a time");

        await page.OpenAsync("/analytics");
        await Assertions.Expect(page.Locator("[data-testid=total-runs]")).Not.ToHaveTextAsync("0");
        foreach (var chart in new[] { "chart-cost-over-time", "chart-token-breakdown", "chart-cost-by-agent", "chart-cost-by-model" })
        {
            var shapes = page.Locator($"[data-testid={chart}] svg path, [data-testid={chart}] svg rect");
            Assert.True(await shapes.CountAsync() > 0, $"{chart} drew nothing");
        }

        Assert.Contains("storyteller", await page.Locator("[data-testid=chart-cost-by-agent]").InnerTextAsync(), StringComparison.Ordinal);
        Assert.NotEqual("—", await page.Locator("[data-testid=latency-p95]").InnerTextAsync());
        await page.ScreenshotAsync("analytics");
    }

    [Fact]
    public async Task Agents_ShowsPresetsAndTheLiveAgentAfterARun()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=storyteller");
        await page.AskAsync("Once upon a time");

        await page.OpenAsync("/agents");
        await Assertions.Expect(page.Locator("[data-testid=preset][data-preset=storyteller]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=live-agents]")).ToContainTextAsync("storyteller");
        await page.ScreenshotAsync("agents");
    }

    [Fact]
    public async Task Traces_AfterARun_DrawsTheWaterfallAndShowsAttributesOnClick()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/?preset=storyteller");
        await page.AskAsync("Once upon a time");

        await page.Locator("[data-testid=trace-link]").Last.ClickAsync();
        await page.Locator("[data-testid=waterfall]").WaitForAsync();
        // The trace page is rendered on the server first; a click before its circuit is up does nothing.
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
        var spans = page.Locator("[data-testid=span]");
        Assert.True(await spans.CountAsync() >= 2, "the waterfall has fewer than two spans");
        var names = await spans.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.spanName)");
        Assert.Contains(names, n => n.StartsWith("steward.run", StringComparison.Ordinal) || n.Contains("storyteller", StringComparison.Ordinal));
        var bars = await page.Locator(".waterfall-bar").EvaluateAllAsync<double[]>("bars => bars.map(b => b.getBoundingClientRect().width)");
        Assert.All(bars, width => Assert.True(width > 0));

        var chat = spans.Filter(new LocatorFilterOptions { HasText = "chat" }).First;
        await chat.ClickAsync();
        await Assertions.Expect(chat).ToHaveAttributeAsync("aria-pressed", "true");
        await Assertions.Expect(page.Locator("[data-testid=span-details]")).ToContainTextAsync("gen_ai.");
        await page.ScreenshotAsync("traces");
    }

    [Fact]
    public async Task ThemeToggle_SwitchesBetweenLightAndDark()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        await page.OpenAsync("/");
        const string Background = "() => getComputedStyle(document.querySelector('.mud-main-content') ?? document.body).getPropertyValue('--mud-palette-background').trim()";
        var before = await page.EvaluateAsync<string>(Background);
        await page.Locator("[data-testid=theme-toggle]").ClickAsync();
        await page.WaitForFunctionAsync($"() => ({Background})() !== {JsonSerializer.Serialize(before)}");
        await page.ScreenshotAsync("chat-theme-toggled");
    }
}
