using System.Text.Json;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary><c>steward runs export</c> as a user runs it, on SQLite and on PostgreSQL.</summary>
public sealed class RunsCommandTests : CliProcessTest
{
    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task RunsExport_AfterTwoAsks_WritesBothRunsWithTheirModelCalls(string storage)
    {
        if (await TestPostgres.DatabaseForAsync(storage) is { } database)
        {
            Env["STEWARD_DB"] = database;
        }

        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "Say hello")).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "Say it again")).ExitCode);

        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "runs", "export", "--agent", "assistant", "--format", "jsonl");

        Assert.True(exit == 0, stderr);
        var runs = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, runs.Length);
        Assert.All(runs, r => Assert.Equal("Completed", r.GetProperty("status").GetString()));
        Assert.All(runs, r => Assert.Equal(1, r.GetProperty("modelCalls").GetArrayLength()));
        Assert.DoesNotContain(TestEngine.ApiKey, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsExport_ParquetWithoutOutput_OneLineNamingTheFix()
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "runs", "export", "--format", "parquet");

        Assert.Equal(2, exit);
        Assert.Contains("--output", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
