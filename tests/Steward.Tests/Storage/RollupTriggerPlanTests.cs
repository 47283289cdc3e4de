using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

/// <summary>
/// The triggers that keep the rollups in step run inside every write of a run, a tag, a score or a rating, on the single
/// writer: a statement in them that reads a whole table costs that table's size on every run, and the rollups grow with
/// every day, user, tag and model a store has seen. Each write the product makes is explained with its triggers
/// (SQLite's trigger EXPLAIN), and none may scan a stored table.
/// </summary>
public sealed partial class RollupTriggerPlanTests
{
    private const int TriggerEqp = 1008; // SQLITE_DBCONFIG_TRIGGER_EQP

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Writes => new()
    {
        { "a run starts", """INSERT INTO runs ("Id", "SessionId", "PresetName", "PresetVersion", "Provider", "Model", "Query", "Status", "StartedAt", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "FromCache", "Owner", "Purpose", "UsageEstimated", "UserId") VALUES ('R', 'S', 'p', 'v', 'openai', 'm', 'q', 'Running', '2026-12-05 10:00:00', 0, 0, 0, 0, 0, 'o', 'agent', 0, 'u')""" },
        { "a run is tagged", """INSERT INTO run_tags ("RunId", "Tag") VALUES ('R', 't')""" },
        { "a run ends", """UPDATE runs SET "Status" = 'Completed', "EndedAt" = '2026-12-05 10:00:01', "DurationMs" = 1, "TimeToFirstTokenMs" = 1, "InputTokens" = 40, "OutputTokens" = 12, "CostNanoUsd" = 5 WHERE "Id" = 'R'""" },
        { "a run moves to another model", """UPDATE runs SET "Provider" = 'other', "Model" = 'n', "StartedAt" = '2026-12-06 10:00:00', "UserId" = 'w' WHERE "Id" = 'R'""" },
        { "a run is scored", """INSERT INTO evaluations ("RunId", "PresetName", "EvaluatedAt", "Score", "Passed", "PassThreshold", "DurationMs", "JudgeInputTokens", "JudgeCachedInputTokens", "JudgeOutputTokens", "JudgeReasoningTokens", "JudgeSelfHosted") VALUES ('R', 'p', '2026-12-05 10:00:02', 0.5, 1, 0.5, 1, 0, 0, 0, 0, 0)""" },
        { "a score is replaced", """UPDATE evaluations SET "Score" = 0.7, "EvaluatedAt" = '2026-12-05 11:00:00' WHERE "RunId" = 'R'""" },
        { "a metric is stored", """INSERT INTO evaluation_metrics ("RunId", "Sequence", "Name", "Evaluator", "Weight", "Failed", "Reason", "NormalizedScore") VALUES ('R', 1, 'relevance', 'e', 1, 0, 'r', 0.5)""" },
        { "a metric is replaced", """UPDATE evaluation_metrics SET "NormalizedScore" = 0.9 WHERE "RunId" = 'R'""" },
        { "a metric is removed", """DELETE FROM evaluation_metrics WHERE "RunId" = 'R'""" },
        { "a run is rated", """INSERT INTO run_feedback ("RunId", "Rating", "Source", "GivenAt") VALUES ('R', 1, 'web', '2026-12-05 10:00:03')""" },
        { "a rating changes", """UPDATE run_feedback SET "Rating" = -1 WHERE "RunId" = 'R'""" },
        { "a rating is withdrawn", """DELETE FROM run_feedback WHERE "RunId" = 'R'""" },
        { "a tag is removed", """DELETE FROM run_tags WHERE "RunId" = 'R'""" },
        { "a score is removed", """DELETE FROM evaluations WHERE "RunId" = 'R'""" },
        { "a run is deleted", """DELETE FROM runs WHERE "Id" = 'R'""" },
        { "a session is deleted", """DELETE FROM sessions WHERE "Id" = 'S'""" },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task Write_UpdatesTheRollupsByKey_WithoutReadingAWholeTable(string write, string statement)
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));
        using var connection = (SqliteConnection)engine.Get<StorageBackend>().CreateConnection();
        await connection.OpenAsync(Ct);
        Assert.Equal(SQLitePCL.raw.SQLITE_OK, SQLitePCL.raw.sqlite3_db_config(connection.Handle, TriggerEqp, 1, out _));

        var steps = await QueryPlans.ExplainAsync(connection, statement, Ct);
        Assert.Contains(steps, s => s.StartsWith("-- TRIGGER ", StringComparison.Ordinal));
        // A SCAN of a subquery a trigger builds ("(SELECT ...) AS d": a run's facets, the two histograms) reads only the rows
        // it made; of the search index, a lookup by its own index. Any other SCAN reads a stored table whole.
        await using var triggers = connection.CreateCommand();
        triggers.CommandText = "SELECT group_concat(sql, ' ') FROM sqlite_master WHERE type = 'trigger'";
        var subqueries = Subquery().Matches((string)(await triggers.ExecuteScalarAsync(Ct))!).Select(m => m.Groups[1].Value).ToHashSet();
        var scans = steps.Where(s => Scan().Match(s) is { Success: true } m && !subqueries.Contains(m.Groups[1].Value) && m.Groups[1].Value != "CONSTANT"
                                     && !s.Contains("VIRTUAL TABLE", StringComparison.Ordinal)).ToList();
        Assert.True(scans.Count == 0, $"When {write}, its triggers read whole tables: {string.Join("; ", scans)}");
    }

    [Fact]
    public async Task MetricPrune_OnPostgres_FindsTheEmptyRowByIndex_NotByReadingAYearOfRollups()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            configure: settings => settings["Steward:Storage:Database"] = database,
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync(Ct);
        await using (var fill = connection.CreateCommand())
        {
            // A year of hours for five agents, two models and four metrics, as PostgreSQL's statistics then know it.
            fill.CommandText = """
                INSERT INTO quality_metric_rollups SELECT timestamptz '2025-01-01' + (v / 40) * interval '1 hour', 'agent' || (v % 5), 'openai',
                    'model' || ((v / 5) % 2), 'metric' || ((v / 10) % 4), 1.0, 1 FROM generate_series(0, 349999) v;
                ANALYZE quality_metric_rollups;
                """;
            await fill.ExecuteNonQueryAsync(Ct);
        }

        // The statement the metric triggers prune with (a metric changed or removed): its rows are named by metric alone.
        await using var explain = connection.CreateCommand();
        explain.CommandText = """EXPLAIN DELETE FROM quality_metric_rollups WHERE "Name" = 'metric1' AND "Count" = 0""";
        var plan = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            plan.Add(reader.GetString(0));
        }

        Assert.DoesNotContain(plan, s => s.Contains("Seq Scan", StringComparison.Ordinal));
        Assert.Contains(plan, s => s.Contains("IX_quality_metric_rollups_Empty", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"\)\s+AS\s+(\w+)")]
    private static partial Regex Subquery();

    [GeneratedRegex(@"^SCAN (\w+)")]
    private static partial Regex Scan();
}
