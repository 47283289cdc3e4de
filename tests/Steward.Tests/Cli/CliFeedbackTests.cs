using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

public sealed class CliFeedbackTests : CliProcessTest
{
    [Fact]
    public async Task Feedback_DownWithCommentOnARunPrefix_IsStoredAndExported()
    {
        var ask = JsonNode.Parse((await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "--no-wait-quality", "Say hello")).Stdout)!;
        var run = ask["run_id"]!.GetValue<string>();
        var session = ask["session_id"]!.GetValue<string>();

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "feedback", run[..18], "down", "--comment", "Too terse.");
        Assert.True(exit == 0, stderr);

        var export = JsonNode.Parse((await CliProcess.RunAsync(Env, "sessions", "export", session)).Stdout)!;
        var feedback = export["runs"]![0]!["feedback"]!;
        Assert.Equal("Down", feedback["rating"]!.GetValue<string>());
        Assert.Equal("Too terse.", feedback["comment"]!.GetValue<string>());
        Assert.Equal("cli", feedback["source"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(2, "is not one of", "feedback", "0198c3a2", "sideways")]
    [InlineData(3, "No run id starts with 'ffffffff'", "feedback", "ffffffff", "up")]
    public async Task Feedback_BadInput_OneLineAndExitCode(int expectedExit, string expected, params string[] args)
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, args);

        Assert.Equal(expectedExit, exit);
        Assert.Contains(expected, Assert.Single(stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal)), StringComparison.OrdinalIgnoreCase);
    }
}
