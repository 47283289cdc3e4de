using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Parquet;
using Steward.Sessions;
using Steward.Storage;
using Steward.Tests.Costs;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

public sealed class RunExportSqliteTests : RunExportTests
{
    protected override string Storage => "sqlite";
}

public sealed class RunExportPostgresTests : RunExportTests
{
    protected override string Storage => "postgres";
}

/// <summary>The run export on each provider: the five seeded runs of <see cref="CostReportsTests.SeedAsync"/>, one with a model call.</summary>
public abstract class RunExportTests : IAsyncLifetime
{
    private TestEngine _engine = null!;

    protected abstract string Storage { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var database = await TestPostgres.DatabaseForAsync(Storage);
        _engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }
        });
        await CostReportsTests.SeedAsync(_engine, Ct);
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var first = await db.Runs.OrderBy(r => r.StartedAt).FirstAsync(Ct);
        db.ModelCalls.Add(new ModelCallRecord
        {
            RunId = first.Id, Purpose = "agent", Sequence = 1, Id = Guid.NewGuid(), Provider = "openai", Model = "gpt-4o", StartedAt = first.StartedAt,
            DurationMs = 1_500, InputTokens = 1_000, CachedInputTokens = 200, OutputTokens = 500, CostNanoUsd = 10_000_000, Status = "Completed",
        });
        db.Evaluations.Add(new EvaluationRecord { RunId = first.Id, PresetName = first.PresetName, EvaluatedAt = first.StartedAt.AddMinutes(1), Score = 87, Passed = true });
        await db.SaveChangesAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task ExportAsync_Jsonl_OneLinePerRunOldestFirstWithCallsAndScore()
    {
        using var output = new MemoryStream();

        var count = await _engine.Get<RunExporter>().ExportAsync(new RunExportFilter(), RunExportFormat.Jsonl, output, Ct);

        var lines = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(5, count);
        Assert.Equal(5, lines.Length);
        Assert.Equal("2026-11-20T10:00:00Z", lines[0].GetProperty("startedAt").GetString());
        Assert.Equal(0.01m, lines[0].GetProperty("costUsd").GetDecimal());
        Assert.Equal(87, lines[0].GetProperty("qualityScore").GetDouble());
        var call = Assert.Single(lines[0].GetProperty("modelCalls").EnumerateArray());
        Assert.Equal(("gpt-4o", 1_000L), (call.GetProperty("model").GetString(), call.GetProperty("inputTokens").GetInt64()));
        Assert.Equal(0, lines[4].GetProperty("modelCalls").GetArrayLength());
    }

    [Theory]
    [InlineData(null, 0.01, "analyst", 2)]
    [InlineData("B", null, "advisor", 3)]
    [InlineData("nothing like it", null, null, 0)]
    public async Task ExportAsync_HistoryFilter_OnlyRunsOfTheSessionsHistoryLists(string? text, double? minCost, string? agent, int expected)
    {
        using var output = new MemoryStream();
        var filter = new RunExportFilter { Sessions = new SessionFilter { Text = text, MinCostUsd = (decimal?)minCost } };

        var count = await _engine.Get<RunExporter>().ExportAsync(filter, RunExportFormat.Jsonl, output, Ct);

        var lines = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(expected, count);
        Assert.Equal(expected, lines.Length);
        Assert.All(lines, l => Assert.Equal(agent, l.GetProperty("agent").GetString()));
        var listed = await _engine.Get<SessionSearch>().SearchAsync(filter.Sessions, 0, 10, Ct);
        Assert.Equal(expected, listed.Rows.Sum(r => r.Runs));
    }

    [Fact]
    public async Task ExportAsync_CsvForOneAgentAndDay_OnlyThoseRuns()
    {
        using var output = new MemoryStream();
        var filter = new RunExportFilter
        {
            Agent = "advisor", From = new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero),
        };

        var count = await _engine.Get<RunExporter>().ExportAsync(filter, RunExportFormat.Csv, output, Ct);

        var rows = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, count);
        Assert.StartsWith("run_id,session_id,agent,", rows[0], StringComparison.Ordinal);
        Assert.Equal(3, rows.Length);
        Assert.All(rows.Skip(1), r => Assert.Contains(",advisor,", r, StringComparison.Ordinal));
        Assert.Contains("mystery-model", rows[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAsync_Parquet_ReadsBackEveryRun()
    {
        var path = Path.Combine(_engine.Folder, "runs.parquet");
        await using (var file = File.Create(path))
        {
            await _engine.Get<RunExporter>().ExportAsync(new RunExportFilter(), RunExportFormat.Parquet, file, Ct);
        }

        await using var reader = await ParquetReader.CreateAsync(path, cancellationToken: Ct);
        Assert.Equal(5, reader.RowGroups.Sum(g => g.RowCount));
        var agent = reader.Schema.FindDataField("agent");
        var agents = new string?[5];
        await reader.RowGroups[0].ReadAsync(agent, agents.AsMemory(), cancellationToken: Ct);
        Assert.Equal(["analyst", "analyst", "advisor", "advisor", "advisor"], agents);
    }
}
