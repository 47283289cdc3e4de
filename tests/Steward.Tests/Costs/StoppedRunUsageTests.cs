using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Analytics;
using Steward.Costs;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Costs;

/// <summary>
/// Defect 8 of issue 18: a run stopped after the embedded engine generated part of an answer used the model. The
/// reports say so: by status in Analytics' read model and in <c>steward costs</c>, priced as self-hosted.
/// </summary>
public sealed class StoppedRunUsageTests : IAsyncLifetime
{
    private DirectoryInfo _folder = null!;
    private AgentResponse _stopped = null!;

    public async ValueTask InitializeAsync()
    {
        var model = TestModels.Require("stories260K.gguf");
        _folder = Directory.CreateTempSubdirectory("steward-stopped-usage-");
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:Providers:local:Kind"] = "local";
            s["Steward:Providers:local:Model"] = model;
        }, folder: _folder.FullName);
        using var stop = new CancellationTokenSource();
        var deltas = 0;
        // As a person pressing Stop after the first words: the run is cancelled with what streamed so far.
        _stopped = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once upon a time", MaxOutputTokens = 400 },
            p =>
            {
                if (p.TextDelta is not null && ++deltas == 20)
                {
                    stop.Cancel();
                }

                return ValueTask.CompletedTask;
            }, stop.Token);
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once upon a time", MaxOutputTokens = 8 }, cancellationToken: TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }

    private Dictionary<string, string> CliEnvironment() => new()
    {
        ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
        ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
        ["Steward__Agents__Directory"] = Path.Combine(_folder.FullName, "agents"),
    };

    [Fact]
    public async Task GetByStatusAsync_RunStoppedMidAnswer_CountsItsOutputAndSelfHostedCost()
    {
        Assert.Equal(RunStatus.Cancelled, _stopped.Status);
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", folder: _folder.FullName);

        var outcomes = await engine.Get<AnalyticsQueries>().GetByStatusAsync(new CostFilter(), TestContext.Current.CancellationToken);

        var cancelled = Assert.Single(outcomes.ByStatus, s => s.Status == RunStatus.Cancelled);
        Assert.Equal(1, cancelled.Runs);
        Assert.Equal(_stopped.Usage.OutputTokens, cancelled.OutputTokens);
        Assert.True(cancelled.OutputTokens >= 20, $"only {cancelled.OutputTokens} output tokens counted for 20 streamed pieces");
        Assert.Equal(0, cancelled.UnpricedRuns);
        Assert.Equal(0.5, outcomes.Share(RunStatus.Cancelled));
        Assert.Equal(0.0, outcomes.ErrorRate);
    }

    [Fact]
    public async Task Costs_RunStoppedMidAnswer_ShownByStatusInTextAndJson()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(CliEnvironment(), "costs", "--json");
        var (textExit, text, textErr) = await CliProcess.RunAsync(CliEnvironment(), "costs");

        Assert.True(exit == 0, stderr);
        Assert.True(textExit == 0, textErr);
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal(2, report["totals"]!["runs"]!.GetValue<long>());
        var cancelled = Assert.Single(report["by_status"]!.AsArray(), s => s!["status"]!.GetValue<string>() == "Cancelled")!;
        Assert.Equal(_stopped.Usage.OutputTokens, cancelled["output_tokens"]!.GetValue<long>());
        Assert.Equal(0, cancelled["unpriced_runs"]!.GetValue<long>());
        Assert.Contains("by status", text, StringComparison.Ordinal);
        Assert.Contains("Cancelled", text, StringComparison.Ordinal);
    }
}
