using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Steward.Storage;
using Steward.Tests.TestSupport;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>
/// One app (embedded engine on stories260K as the default provider, plus a fake OpenAI-compatible provider for
/// scripted answers) and one headless Debian chromium, shared by the browser tests of a class.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The address of the corpus document the researcher preset cites.</summary>
    public const string CitedUrl = "https://charging.evdata.org/europe";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-web-ui-");
    private IPlaywright? _playwright;

    public WebAppProcess? App { get; private set; }

    /// <summary>The app's SQLite database, for tests that store what an older version or another tool could have left there.</summary>
    public string DatabasePath => Path.Combine(_folder.FullName, "steward.db");

    public FakeModelServer? ModelServer { get; private set; }

    public IBrowser? Browser { get; private set; }

    /// <summary>Why the browser tests cannot run here, or <see langword="null"/>.</summary>
    public string? Unavailable { get; private set; }

    public static string ScreenshotFolder { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots")).FullName;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            Unavailable = $"Chromium is not installed at {ChromiumPath} (apt-get install -y chromium).";
            return;
        }

        var model = FindModel();
        if (model is null)
        {
            Unavailable = Steward.TestSupport.TestModelFolder.MissingMessage("stories260K.gguf");
            return;
        }

        ModelServer = await FakeModelServer.StartAsync();
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "storyteller.yaml"), """
            name: storyteller
            display_name: Storyteller
            description: Tells tiny stories with the embedded engine.
            instructions: Tell a story.
            max_output_tokens: 120
            temperature: 0
            """);
        await File.WriteAllTextAsync(Path.Combine(agents, "scripted.yaml"), """
            name: scripted
            display_name: Scripted
            description: Answers whatever the fake model server is told to say.
            instructions: Answer.
            provider: fake
            """);
        // A tool that needs approval, over a corpus of one document, for the tool-call browser test.
        await File.WriteAllTextAsync(Path.Combine(agents, "researcher.yaml"), """
            name: researcher
            display_name: Researcher
            description: Searches the corpus (with approval) through the fake model server.
            instructions: Answer with sources.
            provider: fake
            web_search:
              backend: corpus
              mode: tool
            require_approval: [web_search]
            """);
        var docs = Directory.CreateDirectory(Path.Combine(_folder.FullName, "docs")).FullName;
        await File.WriteAllTextAsync(Path.Combine(docs, "charging.md"), "---\ntitle: Charging networks in Europe\nsource: " + CitedUrl + "\n---\nFast charging hubs along European highways.");
        await new Steward.Tools.Corpus.CorpusStore(
            Microsoft.Extensions.Options.Options.Create(new Steward.Tools.Corpus.CorpusOptions()),
            Microsoft.Extensions.Options.Options.Create(new Steward.Storage.StorageOptions { Database = Path.Combine(_folder.FullName, "steward.db") }),
            TimeProvider.System).AddAsync([docs], CancellationToken.None);
        App = await WebAppProcess.StartAsync(new Dictionary<string, string>
        {
            ["STEWARD_DB"] = DatabasePath,
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["STEWARD_MODEL"] = model,
            ["Steward__Agents__Directory"] = agents,
            ["Steward__DefaultProvider"] = "local",
            ["Steward__Providers__fake__Kind"] = "openai-compatible",
            ["Steward__Providers__fake__Endpoint"] = ModelServer.OpenAIUrl,
            ["Steward__Providers__fake__ApiKey"] = "sk-test-not-a-secret",
            ["Steward__Providers__fake__Model"] = "fake-model",
            ["Steward__Providers__fake__MaxRetries"] = "0",
        }, CancellationToken.None);

        _playwright = await Playwright.CreateAsync();
        Browser = await LaunchChromiumAsync(_playwright);
    }

    /// <summary>
    /// Works on the app's database through the engine's own storage (as an older install, an import or another tool could
    /// have left it), then saves.
    /// </summary>
    internal async Task<T> WithDatabaseAsync<T>(Func<StewardDbContext, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = DatabasePath,
        }).Build();
        var services = new ServiceCollection();
        services.AddStewardEngine(configuration);
        await using var provider = services.BuildServiceProvider();
        await using var db = await provider.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync();
        var result = await work(db);
        await db.SaveChangesAsync();
        return result;
    }

    /// <summary>Debian's chromium, headless, with the switches that keep it quiet and working in a container.</summary>
    public static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ChromiumPath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });

    /// <summary>Skips the test here, fails it in CI, when chromium or the model is missing.</summary>
    public void RequireBrowser()
    {
        if (Unavailable is { } reason)
        {
            Requirement.Missing(reason);
        }
    }

    /// <summary>What pages of this fixture reported against the Content-Security-Policy (violations, blocked resources).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> PolicyViolations { get; } = new();

    /// <summary>What the pages wrote to their consoles (the circuit's disconnects and reconnects among it), kept with the server's log.</summary>
    private System.Collections.Concurrent.ConcurrentQueue<string> BrowserConsole { get; } = new();

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser!.NewContextAsync(new BrowserNewContextOptions { BaseURL = App!.BaseUrl, AcceptDownloads = true, ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        context.SetDefaultTimeout(30_000);
        // Expectations wait as long as actions: a click's round trip over the circuit takes seconds when CI is loaded.
        Assertions.SetDefaultExpectTimeout(30_000);
        // Every page reports what the Content-Security-Policy blocked, whichever test opened it.
        await context.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e =>
              console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} ${e.sample || ''}`));
            """);
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            BrowserConsole.Enqueue(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} {message.Type} {page.Url}: {message.Text}"));
            if (message.Type == "error" && (message.Text.Contains("CSP violation", StringComparison.Ordinal) || message.Text.Contains("Content Security Policy", StringComparison.Ordinal)))
            {
                PolicyViolations.Enqueue($"{page.Url}: {message.Text}");
            }
        };
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (App is not null)
        {
            // Kept beside the screenshots: when a browser test fails in CI, the server's side of the story is here.
            // One file per fixture: the classes run one after another and each one's log must survive the next.
            await File.WriteAllTextAsync(Path.Combine(ScreenshotFolder, "..", $"web-app-output-{_folder.Name}.log"),
                App.Output + Environment.NewLine + "--- browser console ---" + Environment.NewLine + string.Join(Environment.NewLine, BrowserConsole));
            await App.DisposeAsync();
        }

        if (ModelServer is not null)
        {
            await ModelServer.DisposeAsync();
        }

        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's WAL files can outlive the process by a moment; the temp folder is cleaned by the OS.
        }
    }

    private static string? FindModel() => Steward.TestSupport.TestModelFolder.Find("stories260K.gguf");
}

/// <summary>Page helpers shared by the browser tests.</summary>
public static class PageExtensions
{
    /// <summary>Opens a page and waits until the Blazor circuit is up, so clicks do something.</summary>
    public static async Task OpenAsync(this IPage page, string path)
    {
        await page.GotoAsync(path);
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
    }

    /// <summary>The address of the chat's session, once Chat has moved to it after the first answer was stored.</summary>
    /// <remarks>
    /// Chat moves there with <c>history.replaceState</c>. <c>WaitForURLAsync</c> looks at the address it last heard of
    /// and then listens for the next navigation; a replaceState that lands between the two is never heard of (seen in CI
    /// under load: the browser had replaced the address, the wait ran out 30 and 90 s later). An expectation on the page's
    /// address asks again until it matches, and the address is then read from the page itself.
    /// </remarks>
    public static async Task<string> WaitForSessionAddressAsync(this IPage page, float timeout = 90_000)
    {
        await Assertions.Expect(page).ToHaveURLAsync(SessionAddress, new PageAssertionsToHaveURLOptions { Timeout = timeout });
        return await page.EvaluateAsync<string>("() => location.href");
    }

    private static readonly System.Text.RegularExpressions.Regex SessionAddress =
        new("/chat/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

    public static Task ScreenshotAsync(this IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotFolder, name + ".png"), FullPage = true });

    /// <summary>Asks the agent a question in Chat and waits for the run to finish.</summary>
    public static async Task AskAsync(this IPage page, string question)
    {
        var answers = page.Locator("[data-testid=assistant-message]");
        var before = await answers.CountAsync();
        await page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync(question);
        await page.Locator("[data-testid=send]").ClickAsync();
        await page.Locator("[data-testid=assistant-message][data-finished=true]").Nth(before).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
    }
}
