using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Storage;

namespace Steward.Web.Tests.Queries;

/// <summary>A real, migrated SQLite database in a temp folder, with the engine and the UI's query services registered.</summary>
public sealed class QueryTestDatabase : IAsyncDisposable
{
    private readonly DirectoryInfo _folder;

    private QueryTestDatabase(ServiceProvider services, DirectoryInfo folder)
    {
        Services = services;
        _folder = folder;
    }

    public ServiceProvider Services { get; }

    public static async Task<QueryTestDatabase> CreateAsync(IReadOnlyDictionary<string, string>? presets = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var folder = Directory.CreateTempSubdirectory("steward-web-query-");
        var agents = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName;
        foreach (var (name, yaml) in presets ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Combine(agents, name + ".yaml"), yaml);
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(folder.FullName, "steward.db"),
            ["Steward:Agents:Directory"] = agents,
        }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection();
        services.AddStewardEngine(configuration);
        Steward.Web.Hosting.StewardWebExtensions.AddStewardQueries(services);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        return new QueryTestDatabase(provider, folder);
    }

    internal async Task AddAsync(params object[] records)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync();
        db.AddRange(records);
        await db.SaveChangesAsync();
    }

    internal static SessionRecord Session(string title, string preset, DateTime updated, params RunRecord[] runs)
    {
        // The runs take the session's id when stored (EF Core fixes up the key of a session's runs).
        var id = Guid.NewGuid();
        return new SessionRecord { Id = id, Title = title, PresetName = preset, CreatedAt = updated, UpdatedAt = updated, Runs = [.. runs] };
    }

    internal static RunRecord Run(
        string query, DateTime started, double? durationMs = 100, long? costNano = 1_000_000, string status = "Completed", string model = "m",
        string preset = "p", string? userId = null, string purpose = "agent") => new()
    {
        Id = Guid.NewGuid(), Query = query, PresetName = preset, UserId = userId, Purpose = purpose, Provider = "prov", Model = model, Status = status, StartedAt = started,
        DurationMs = durationMs, InputTokens = 10, OutputTokens = 5, CostNanoUsd = costNano,
    };

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }
}
