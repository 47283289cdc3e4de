using Microsoft.Playwright;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>A fresh machine: no model downloaded, no provider configured.</summary>
public sealed class FirstRunTests : IAsyncDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-web-first-run-");

    [Fact]
    public async Task Chat_WithNoModelOrProvider_OffersTheDownloadAndProviderSetup()
    {
        if (!File.Exists(BrowserFixture.ChromiumPath))
        {
            Requirement.Missing($"Chromium is not installed at {BrowserFixture.ChromiumPath} (apt-get install -y chromium).");
        }

        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "helper.yaml"), "name: helper\ndisplay_name: Helper\ninstructions: Help.\n", TestContext.Current.CancellationToken);
        await using var app = await WebAppProcess.StartAsync(new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = agents,
        }, TestContext.Current.CancellationToken);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFixture.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = app.BaseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });

        await page.OpenAsync("/");

        var panel = page.Locator("[data-testid=first-run]");
        await Assertions.Expect(panel).ToBeVisibleAsync();
        await Assertions.Expect(panel).ToContainTextAsync("models pull smollm2-360m");
        await Assertions.Expect(panel).ToContainTextAsync("OPENAI_API_KEY");
        await Assertions.Expect(panel).ToContainTextAsync("OLLAMA_HOST");
        await Assertions.Expect(page.Locator("[data-testid=pull-model]")).ToBeEnabledAsync();
        Assert.DoesNotContain("   at ", await page.ContentAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync("first-run");
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's WAL files can outlive the process by a moment; the temp folder is cleaned by the OS.
        }

        return ValueTask.CompletedTask;
    }
}
