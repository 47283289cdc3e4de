using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Calls;
using Steward.Storage;

namespace Steward.Tests.Calls;

/// <summary>
/// <c>model_calls</c> is a view of two halves (the runs' inline calls, the rows of <c>model_call_rows</c>): its readers
/// must reach each half through its key, or every read of a few runs' calls would read every run. SQLite pushes plain
/// values and a join's key into the view's arms (not a subquery: a list passed as one JSON parameter would read it whole),
/// and EF passes a list as values: the plans of the readers' queries hold them to it, whatever the size of the database.
/// </summary>
public sealed class ModelCallReadPlanTests : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-call-plan-");
    private ServiceProvider? _services;

    public async ValueTask InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = Path.Combine(_folder.FullName, "steward.db"),
            ["Steward:Agents:Directory"] = _folder.FullName,
        }).Build();
        _services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
        await _services.GetRequiredService<DatabaseInitializer>().InitializeAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task CallsOfSomeRunsAndOfASessionsRuns_ReadThroughTheRunsKeyAndTheTablesKey_NeverWhole()
    {
        await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        Guid[] runs = [Guid.CreateVersion7(), Guid.CreateVersion7()];
        var sessionId = Guid.CreateVersion7();

        // ModelCallStore.ForRunsAsync and the run export (a list of runs); SessionStore's Include of a session's runs' calls (a join).
        var ofRuns = await PlanAsync(db, db.ModelCalls.AsNoTracking().Where(c => runs.Contains(c.RunId))
            .OrderBy(c => c.RunId).ThenBy(c => c.Purpose == "judge").ThenBy(c => c.Sequence).ToQueryString());
        var ofASession = await PlanAsync(db, db.Runs.Where(r => r.SessionId == sessionId)
            .SelectMany(r => r.Calls, (r, c) => new { r.Id, Call = c }).OrderBy(x => x.Id).ToQueryString());

        foreach (var plan in new[] { ofRuns, ofASession })
        {
            Assert.Contains(plan, step => step.StartsWith("SEARCH runs USING", StringComparison.Ordinal));
            Assert.Contains(plan, step => step.StartsWith("SEARCH model_call_rows USING PRIMARY KEY", StringComparison.Ordinal));
            // A scan of the view's filtered result ("SCAN m") is fine; of a table (by name or as the join's r), not.
            Assert.DoesNotContain(plan, step => step is "SCAN runs" or "SCAN model_call_rows" or "SCAN r" || step.StartsWith("SCAN runs ", StringComparison.Ordinal) ||
                step.StartsWith("SCAN model_call_rows ", StringComparison.Ordinal) || step.StartsWith("SCAN r ", StringComparison.Ordinal));
        }
    }

    // EF's query string for SQLite: ".param set @name value" lines, then the statement.
    private static async Task<List<string>> PlanAsync(StewardDbContext db, string queryString)
    {
        var lines = queryString.Split('\n');
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + string.Join('\n', lines.Where(l => !l.StartsWith(".param set ", StringComparison.Ordinal)));
        foreach (var line in lines.Where(l => l.StartsWith(".param set ", StringComparison.Ordinal)))
        {
            var parts = line[".param set ".Length..].Split(' ', 2);
            command.Parameters.AddWithValue(parts[0], parts[1].Trim().Trim('\''));
        }

        List<string> steps = [];
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            steps.Add(reader.GetString(3));
        }

        return steps;
    }
}
