using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Steward.Storage;

namespace Steward.Web.Tests.Browser;

/// <summary>Hostile data in the database or in an import, in a real browser: nothing of it runs, all of it reads as text.</summary>
public sealed class SecurityBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>, IDisposable
{
    /// <summary>Whatever a test did, no page of it reported a Content-Security-Policy violation.</summary>
    public void Dispose() => Assert.Empty(fixture.PolicyViolations);

    private const string HostileModel = "<img src=x onerror=\"window.__xss='model'\">";
    private const string HostilePreset = "<svg onload=\"window.__xss='preset'\">";

    [Fact]
    public async Task Analytics_StoredRunWithMarkupInModelAndPresetNames_RunsNothingAndShowsTheNamesAsText()
    {
        fixture.RequireBrowser();
        await StoreSessionAsync("Stored by an older version", HostilePreset, HostileModel);
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/analytics");

        var byModel = page.Locator("[data-testid=chart-cost-by-model] g.mud-charts-xaxis text");
        await Assertions.Expect(byModel.Filter(new LocatorFilterOptions { HasText = "onerror" })).ToHaveCountAsync(1);
        Assert.Contains(HostileModel, await byModel.AllTextContentsAsync());
        var byAgent = page.Locator("[data-testid=chart-cost-by-agent] g.mud-charts-xaxis text");
        Assert.Contains(HostilePreset, await byAgent.AllTextContentsAsync());
        Assert.Equal(0, await page.Locator("main img, main svg svg, [onerror], [onload]").CountAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__xss ?? null"));
        await page.ScreenshotAsync("analytics-hostile-names");
    }

    [Fact]
    public async Task History_Import_HostileExportRefusedInOneLine_CopyNeedsTheCheckbox()
    {
        fixture.RequireBrowser();
        var hostile = await StoreSessionAsync("Hostile model", "storyteller", HostileModel);
        var plain = await StoreSessionAsync("Plain session", "storyteller", "stories260K.gguf");
        var page = await fixture.NewPageAsync();
        var hostileExport = await DownloadExportAsync(page, hostile);
        var plainExport = await DownloadExportAsync(page, plain);
        var doc = JsonNode.Parse(hostileExport)!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();

        await page.OpenAsync("/history");
        var result = page.Locator("[data-testid=import-result]");
        await ImportAsync(page, doc.ToJsonString());
        await Assertions.Expect(result).ToContainTextAsync("Import failed: runs[0].model: '<img src=x onerror=");
        await Assertions.Expect(result).ToContainTextAsync("Nothing was imported.");

        await ImportAsync(page, plainExport);
        await Assertions.Expect(result).ToContainTextAsync($"session.id: session {plain} is already stored; nothing was imported. Tick “Import as a copy”");

        await page.GetByLabel("Import as a copy (new ids)").CheckAsync();
        await ImportAsync(page, plainExport);
        await Assertions.Expect(result).ToContainTextAsync("Imported as a copy: session ");
        await Assertions.Expect(page.Locator("text=Plain session (copy)")).ToHaveCountAsync(1);
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__xss ?? null"));
        await page.ScreenshotAsync("history-import-copy");
    }

    /// <summary>Every page, used as a person would, under the Content-Security-Policy: nothing blocked, nothing broken.</summary>
    [Fact]
    public async Task EveryPage_UsedUnderTheContentSecurityPolicy_NoViolation()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();

        await page.OpenAsync("/?preset=storyteller");
        await page.AskAsync("Once upon a time");
        await page.Locator("[data-testid=theme-toggle]").ClickAsync();
        // The session's address and this answer's trace are read off this page, so what is checked below is the run this
        // test made, whatever other tests stored in the shared app before it.
        var session = (await page.WaitForSessionAddressAsync()).Split('/')[^1];
        var trace = await page.Locator("[data-testid=assistant-message][data-finished=true] [data-testid=trace-link]").Last.GetAttributeAsync("href");
        Assert.Matches("^traces/[0-9a-f-]{36}$", trace);
        await page.OpenAsync("/" + trace);
        await page.Locator("[data-testid=waterfall]").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
        await page.Locator("[data-testid=span]").Last.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=span-details]")).ToBeVisibleAsync();

        await page.ScreenshotAsync("csp-trace");
        foreach (var path in new[] { "/history", "/analytics", "/agents", $"/chat/{session}", "/no-such-page", "/traces" })
        {
            await page.OpenAsync(path);
            await page.ScreenshotAsync("csp" + path.Replace('/', '-'));
        }

        Assert.Empty(fixture.PolicyViolations);
        Assert.Equal("true", await page.Locator("#steward-app").GetAttributeAsync("data-interactive"));
    }

    private static async Task ImportAsync(IPage page, string json)
    {
        // InputFile listens for the file only once its script has set it up, a moment after the circuit is up.
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=import-file]')?._blazorInputFileNextFileId !== undefined");
        await page.Locator("[data-testid=import-file]").SetInputFilesAsync(new FilePayload
        {
            Name = "session.json", MimeType = "application/json", Buffer = System.Text.Encoding.UTF8.GetBytes(json),
        });
    }

    private static async Task<string> DownloadExportAsync(IPage page, Guid session)
    {
        var response = await page.APIRequest.GetAsync($"/api/sessions/{session}/export");
        Assert.Equal(200, response.Status);
        return await response.TextAsync();
    }

    /// <summary>Stores a session as the database could hold it from before names were checked at the edges.</summary>
    private async Task<Guid> StoreSessionAsync(string title, string preset, string model)
    {
        var options = new DbContextOptionsBuilder<StewardDbContext>().UseSqlite($"Data Source={fixture.DatabasePath}")
            .AddInterceptors(new SqliteConnectionSettings()).Options;
        await using var db = new StewardDbContext(options);
        var now = DateTime.UtcNow;
        var session = new SessionRecord { Id = Guid.CreateVersion7(), Title = title, PresetName = preset, CreatedAt = now, UpdatedAt = now };
        var run = new RunRecord
        {
            Id = Guid.CreateVersion7(), SessionId = session.Id, PresetName = preset, PresetVersion = "v1", Provider = "fake", Model = model,
            Query = "Hello", Status = "Completed", StartedAt = now, EndedAt = now.AddSeconds(1), DurationMs = 1000, InputTokens = 40,
            OutputTokens = 20, CostNanoUsd = 2_000_000, Owner = "test",
        };
        session.Runs.Add(run);
        session.Messages.Add(new MessageRecord { SessionId = session.Id, RunId = run.Id, Sequence = 1, Role = "user", Content = "Hello", CreatedAt = now });
        session.Messages.Add(new MessageRecord { SessionId = session.Id, RunId = run.Id, Sequence = 2, Role = "assistant", Content = "Hi there.", CreatedAt = now });
        db.Sessions.Add(session);
        await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        return session.Id;
    }
}
