using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Tests.TestSupport;

/// <summary>
/// Steward's engine wired as in production, on a temporary folder: its own SQLite file and presets folder, with
/// an <c>openai-compatible</c> provider named <c>fake</c> pointing at a <see cref="FakeModelServer"/>.
/// </summary>
public sealed class TestEngine : IAsyncDisposable
{
    public const string ApiKey = "sk-steward-test-secret-7f3a9c";

    private readonly ServiceProvider _services;

    private TestEngine(ServiceProvider services, string folder)
    {
        _services = services;
        Folder = folder;
    }

    public string Folder { get; }

    public string AgentsFolder => Path.Combine(Folder, "agents");

    public string DatabasePath => Path.Combine(Folder, "steward.db");

    public static string Preset(string name, string extra = "") => $"""
        name: {name}
        display_name: Test {name}
        description: A preset for tests.
        instructions: You are a test assistant. Answer briefly.
        {extra}
        """;

    public static async Task<TestEngine> StartAsync(
        string modelServerUrl, Action<Dictionary<string, string?>>? configure = null, Action<IServiceCollection>? services = null, string? folder = null)
    {
        folder ??= Directory.CreateTempSubdirectory("steward-test-").FullName;
        var agents = Path.Combine(folder, "agents");
        Directory.CreateDirectory(agents);
        if (!File.Exists(Path.Combine(agents, "assistant.yaml")))
        {
            await File.WriteAllTextAsync(Path.Combine(agents, "assistant.yaml"), Preset("assistant")).ConfigureAwait(false);
        }

        var settings = new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(folder, "steward.db"),
            ["Steward:Agents:Directory"] = agents,
            ["Steward:DefaultProvider"] = "fake",
            ["Steward:Providers:fake:Kind"] = "openai-compatible",
            ["Steward:Providers:fake:Endpoint"] = modelServerUrl,
            ["Steward:Providers:fake:ApiKey"] = ApiKey,
            ["Steward:Providers:fake:Model"] = "fake-model",
            ["Steward:Providers:fake:MaxRetries"] = "0",
            ["Steward:Providers:fake:TimeoutSeconds"] = "30",
        };
        configure?.Invoke(settings);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        collection.AddStewardEngine(configuration);
        services?.Invoke(collection);
        var provider = collection.BuildServiceProvider();
        try
        {
            await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            // A start that fails must not leave its services running: a tracer provider left behind samples every later
            // test's spans in this process (the serial telemetry tests then see traces their own sampling dropped).
            await provider.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new TestEngine(provider, folder);
    }

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public AgentRunner Runner => Get<AgentRunner>();

    internal SessionStore Sessions => Get<SessionStore>();

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync().ConfigureAwait(false);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        // Each PostgreSQL test has a database of its own: idle pooled connections to it would only use up the server's.
        Npgsql.NpgsqlConnection.ClearAllPools();
    }
}
