using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using Steward.Keys;
using Steward.Tests.TestSupport;
using Steward.Web.Hosting;

namespace Steward.Web.Tests.Gateway;

/// <summary>
/// The web app as <c>Program.cs</c> builds it, on a real Kestrel on a loopback port 0, with its own database and presets
/// folder and an <c>openai-compatible</c> provider named <c>fake</c> pointing at a <see cref="FakeModelServer"/>.
/// </summary>
public sealed class GatewayApp : IAsyncDisposable
{
    private readonly DirectoryInfo _folder;
    private readonly WebApplication _app;

    private GatewayApp(WebApplication app, DirectoryInfo folder, FakeModelServer model)
    {
        _app = app;
        _folder = folder;
        Model = model;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
    }

    public FakeModelServer Model { get; }

    public string BaseUrl { get; }

    public string DatabasePath => Path.Combine(_folder.FullName, "steward.db");

    public IServiceProvider Services => _app.Services;

    /// <param name="configure">Settings over the defaults.</param>
    /// <param name="presets">More presets, file name (without .yaml) to YAML, beside the <c>assistant</c> one.</param>
    public static async Task<GatewayApp> StartAsync(Action<Dictionary<string, string?>>? configure = null, IReadOnlyDictionary<string, string>? presets = null)
    {
        var model = await FakeModelServer.StartAsync();
        var folder = Directory.CreateTempSubdirectory("steward-gateway-");
        var agents = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "assistant.yaml"), """
            name: assistant
            display_name: Test assistant
            description: A preset for tests.
            instructions: You are a test assistant. Answer briefly.
            provider: fake
            """);
        foreach (var (name, yaml) in presets ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Combine(agents, name + ".yaml"), yaml);
        }

        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Steward:Storage:Database"] = Path.Combine(folder.FullName, "steward.db"),
            ["Steward:LocalModels:ModelsDirectory"] = Path.Combine(folder.FullName, "models"),
            ["Steward:Agents:Directory"] = agents,
            ["Steward:DefaultProvider"] = "fake",
            ["Steward:Providers:fake:Kind"] = "openai-compatible",
            ["Steward:Providers:fake:Endpoint"] = model.OpenAIUrl,
            ["Steward:Providers:fake:ApiKey"] = "sk-upstream-secret-5c1d",
            ["Steward:Providers:fake:Model"] = "fake-model",
            ["Steward:Providers:fake:MaxRetries"] = "0",
            ["Steward:Telemetry:Enabled"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        configure?.Invoke(settings);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(StewardWebExtensions).Assembly.GetName().Name, EnvironmentName = "Production",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddStewardWeb();
        var app = builder.Build();
        app.MapStewardWeb();
        await app.Services.GetRequiredService<Steward.Storage.DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        await app.StartAsync();
        var refused = await app.Services.GetRequiredService<BindAddressCheck>().CheckAsync(app.Services);
        Assert.Null(refused);
        return new GatewayApp(app, folder, model);
    }

    /// <summary>Makes a key as <c>steward keys create</c> does; returns its secret.</summary>
    public async Task<string> CreateKeyAsync(ApiKeySpec spec) =>
        (await Services.GetRequiredService<ApiKeyStore>().CreateAsync(spec, CancellationToken.None)).Secret;

    /// <summary>
    /// The stored sessions once there are <paramref name="count"/>: gateway runs are written behind the answer, so a test
    /// that reads them right after a response waits a moment for the write.
    /// </summary>
    public async Task<IReadOnlyList<Steward.Sessions.ChatSessionSummary>> WaitForSessionsAsync(int count)
    {
        var sessions = Services.GetRequiredService<Steward.Sessions.SessionStore>();
        for (var attempt = 0; ; attempt++)
        {
            var list = await sessions.ListAsync(null, 0, 100, CancellationToken.None);
            if (list.Count >= count || attempt == 100)
            {
                return list;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The official OpenAI SDK pointed at the gateway, with retries off so a 429 surfaces at once.</summary>
    public OpenAIClient Client(string key) => new(new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = new Uri(BaseUrl + "/v1"), RetryPolicy = new ClientRetryPolicy(maxRetries: 0), NetworkTimeout = TimeSpan.FromSeconds(60),
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Model.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's WAL files can outlive the app by a moment.
        }
    }
}
