using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed partial class ProcessLeaseSweepPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sweep_FindsGoneProcessesPendingEvaluationsThroughAnIndex_NotByReadingEveryRun()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));

        // Every process sweeps at its start and then each third of the reservation timeout, holding the write lock: this is
        // the filter of the statement that records the pending evaluations of gone processes as skipped.
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var sweep = ProcessLease.PendingEvaluationsOfGone(db, engine.Get<ProcessLease>().Id).ToQueryString();
        // ToQueryString declares its parameters first (".param set"); the statement is what follows them.
        sweep = sweep[sweep.IndexOf("SELECT", StringComparison.Ordinal)..];

        using var connection = (SqliteConnection)engine.Get<StorageBackend>().CreateConnection();
        await connection.OpenAsync(Ct);
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + sweep;
        foreach (var name in Parameter().Matches(sweep).Select(m => m.Value).Distinct())
        {
            explain.Parameters.AddWithValue(name, "someone");
        }

        var steps = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                steps.Add(reader.GetString(3));
            }
        }

        // A plain scan of runs (EF calls it r) reads every run ever stored, however few are waiting for a score.
        Assert.DoesNotContain(steps, s => s is "SCAN runs" or "SCAN r");
        Assert.Contains(steps, s => s.Contains("IX_runs_Owner_PendingEvaluation", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"@\w+")]
    private static partial Regex Parameter();
}
