using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Steward.Tests.TestSupport;
using Steward.Users;
using Steward.Web.Tests.Browser;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.SignIn;

/// <summary>
/// The web app as a child process with local accounts and OpenID Connect both on (the issuer a <see cref="FakeOidcIssuer"/>),
/// three local users made beforehand (root: admin, olga: operator, vera: viewer, each with <see cref="Password"/>), a
/// scripted preset over a fake model server, and one headless chromium.
/// </summary>
public sealed class SignInBrowserFixture : IAsyncLifetime
{
    public const string Password = "correct horse battery";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-signin-");
    private IPlaywright? _playwright;

    public WebAppProcess? App { get; private set; }

    public FakeOidcIssuer? Issuer { get; private set; }

    public FakeModelServer? ModelServer { get; private set; }

    public IBrowser? Browser { get; private set; }

    public string DatabasePath => Path.Combine(_folder.FullName, "steward.db");

    public string? Unavailable { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(BrowserFixture.ChromiumPath))
        {
            Unavailable = $"Chromium is not installed at {BrowserFixture.ChromiumPath} (apt-get install -y chromium).";
            return;
        }

        ModelServer = await FakeModelServer.StartAsync();
        Issuer = await FakeOidcIssuer.StartAsync();
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "scripted.yaml"), """
            name: scripted
            display_name: Scripted
            description: Answers whatever the fake model server is told to say.
            instructions: Answer.
            provider: fake
            """);
        await using (var engine = await EngineAsync())
        {
            var users = engine.GetRequiredService<UserStore>();
            await users.CreateAsync("root", Password, StewardRoles.Admin, CancellationToken.None);
            await users.CreateAsync("olga", Password, StewardRoles.Operator, CancellationToken.None);
            await users.CreateAsync("vera", Password, StewardRoles.Viewer, CancellationToken.None);
        }

        App = await WebAppProcess.StartAsync(new Dictionary<string, string>
        {
            ["STEWARD_DB"] = DatabasePath,
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = agents,
            ["Steward__DefaultProvider"] = "fake",
            ["Steward__Providers__fake__Kind"] = "openai-compatible",
            ["Steward__Providers__fake__Endpoint"] = ModelServer.OpenAIUrl,
            ["Steward__Providers__fake__ApiKey"] = "sk-test-not-a-secret",
            ["Steward__Providers__fake__Model"] = "fake-model",
            ["Steward__Providers__fake__MaxRetries"] = "0",
            ["STEWARD_LOCAL_ACCOUNTS"] = "true",
            ["STEWARD_OIDC_AUTHORITY"] = Issuer.Authority,
            ["STEWARD_OIDC_CLIENT_ID"] = FakeOidcIssuer.ClientId,
            ["STEWARD_OIDC_CLIENT_SECRET"] = FakeOidcIssuer.ClientSecret,
            ["Steward__Auth__Oidc__RequireHttpsMetadata"] = "false",
            ["Steward__Auth__Oidc__DisplayName"] = "Fake IdP",
            ["Steward__Auth__Oidc__RoleMap__Steward.Admins"] = "admin",
            ["Steward__Auth__Oidc__RoleMap__Steward.Readers"] = "viewer",
            // Sign-in and antiforgery events are logged at Information: the secrecy test reads them.
            ["Logging__LogLevel__Default"] = "Information",
        }, CancellationToken.None);

        _playwright = await Playwright.CreateAsync();
        Browser = await BrowserFixture.LaunchChromiumAsync(_playwright);
    }

    /// <summary>The engine's services on the app's database, as the CLI has them (for what a test stores or checks beside the app).</summary>
    public async Task<ServiceProvider> EngineAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = DatabasePath,
            ["Steward:Agents:Directory"] = Path.Combine(_folder.FullName, "agents"),
        }).Build();
        var services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
        await services.GetRequiredService<Steward.Storage.DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        return services;
    }

    public void RequireBrowser()
    {
        if (Unavailable is { } reason)
        {
            Requirement.Missing(reason);
        }
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser!.NewContextAsync(new BrowserNewContextOptions { BaseURL = App!.BaseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        context.SetDefaultTimeout(30_000);
        Assertions.SetDefaultExpectTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in with a local account on the sign-in page, starting from <paramref name="path"/>, and waits for the live connection.</summary>
    public static async Task SignInAsync(IPage page, string path, string name, string password = Password)
    {
        await page.GotoAsync(path);
        await page.Locator("[data-testid=signin-name]").FillAsync(name);
        await page.Locator("[data-testid=signin-password]").FillAsync(password);
        await page.Locator("[data-testid=signin-submit]").ClickAsync();
        await page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
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
            await File.WriteAllTextAsync(Path.Combine(BrowserFixture.ScreenshotFolder, "..", "signin-app-output.log"), App.Output);
            await App.DisposeAsync();
        }

        if (Issuer is not null)
        {
            await Issuer.DisposeAsync();
        }

        if (ModelServer is not null)
        {
            await ModelServer.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's WAL files can outlive the process by a moment.
        }
    }
}
