using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

/// <summary><c>steward traces</c> as a child process: a run in one process, its trace read back by the next.</summary>
public sealed class TracesCommandTests : CliProcessTest
{
    [Fact]
    public async Task AskThenTracesShowAndExport_TreeAndOtlpJsonOfThatRun()
    {
        var (exit, stdout, _) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "Say hello");
        Assert.Equal(0, exit);
        var ask = JsonNode.Parse(stdout)!;
        var runId = ask["run_id"]!.GetValue<string>();
        var traceId = ask["trace_id"]!.GetValue<string>();

        // The ask process flushed its spans to the store before exiting.
        (exit, stdout, var stderr) = await CliProcess.RunAsync(Env, "traces", "show", runId);
        Assert.True(exit == 0, stderr);
        Assert.Contains("agent_run assistant", stdout, StringComparison.Ordinal);
        Assert.Contains("invoke_agent assistant", stdout, StringComparison.Ordinal);
        Assert.Contains("chat gpt-4o-mini", stdout, StringComparison.Ordinal);
        Assert.Contains("check_budget", stdout, StringComparison.Ordinal);
        Assert.True(stdout.IndexOf("agent_run", StringComparison.Ordinal) < stdout.IndexOf("invoke_agent", StringComparison.Ordinal));

        var file = Path.Combine(Folder.FullName, "trace.json");
        (exit, _, stderr) = await CliProcess.RunAsync(Env, "traces", "export", "--run", runId, "--out", file);
        Assert.True(exit == 0, stderr);
        var export = JsonNode.Parse(await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken))!;
        var spans = export["resourceSpans"]![0]!["scopeSpans"]!.AsArray().SelectMany(s => s!["spans"]!.AsArray()).ToList();
        Assert.True(spans.Count >= 7);
        Assert.All(spans, s => Assert.Equal(traceId, s!["traceId"]!.GetValue<string>()));
        Assert.DoesNotContain(TestEngine.ApiKey, await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TracesShow_UnknownRun_NotFoundExit3()
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "traces", "show", Guid.NewGuid().ToString());

        Assert.Equal(3, exit);
        Assert.Contains("has no trace", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadTelemetrySettings_EveryProblemInOneLine_Exit4()
    {
        var env = new Dictionary<string, string>(Env)
        {
            ["Steward__Telemetry__Exporters__0"] = "jaeger",
            ["Steward__Telemetry__SamplingRatio"] = "1.5",
            ["Steward__Telemetry__Otlp__Headers"] = "secret-token-without-equals",
        };
        var (exit, _, stderr) = await CliProcess.RunAsync(env, "sessions", "list");

        Assert.Equal(4, exit);
        Assert.Contains("'jaeger'", stderr, StringComparison.Ordinal);
        Assert.Contains("SamplingRatio must be between 0 and 1", stderr, StringComparison.Ordinal);
        Assert.Contains("Otlp:Headers must be key=value", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-token-without-equals", stderr, StringComparison.Ordinal);
    }
}
