using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>Every command that takes an id takes any unique start of it (UUIDv7 ids share their first eight digits for a minute).</summary>
public sealed class CliIdPrefixTests : CliProcessTest
{
    [Fact]
    public async Task Commands_UniqueIdPrefix_AreAcceptedWhereAWholeIdIs()
    {
        var (exit, stdout, _) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "--no-wait-quality", "Say hello");
        Assert.Equal(0, exit);
        var result = JsonNode.Parse(stdout)!;
        var session = result["session_id"]!.GetValue<string>();
        var run = result["run_id"]!.GetValue<string>();

        var (showExit, shown, showError) = await CliProcess.RunAsync(Env, "sessions", "show", session[..18]);
        Assert.True(showExit == 0, showError);
        Assert.Contains("Say hello", shown, StringComparison.Ordinal);

        var (askExit, _, askError) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--session", session[..18], "--no-wait-quality", "Again");
        Assert.True(askExit == 0, askError);

        var (traceExit, _, traceError) = await CliProcess.RunAsync(Env, "traces", "show", run[..18]);
        Assert.True(traceExit == 0, traceError);

        var (costExit, _, costError) = await CliProcess.RunAsync(Env, "costs", "--session", session[..18], "--json");
        Assert.True(costExit == 0, costError);
    }

    [Fact]
    public async Task SessionsShow_PrefixOfNothing_OneLineNotFoundAndExit3()
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "sessions", "show", "ffffffff-ff");

        Assert.Equal(3, exit);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("No session id starts with 'ffffffff-ff'", error, StringComparison.Ordinal);
    }
}
