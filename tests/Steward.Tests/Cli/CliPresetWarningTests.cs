using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>A broken preset file beside the one asked for is said, not silently skipped (issue 18, defect 11).</summary>
public sealed class CliPresetWarningTests : CliProcessTest
{
    [Fact]
    public async Task Ask_AnotherPresetFileIsBroken_AnswersAndWarnsNamingTheFile()
    {
        await File.WriteAllTextAsync(Path.Combine(Env["Steward__Agents__Directory"], "typo.yaml"), "name: typo\ninstuctions: misspelt\n", TestContext.Current.CancellationToken);

        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", "Say hello");

        Assert.Equal(0, exit);
        Assert.Equal("Hello from the fake model.", stdout.Trim());
        var warning = Assert.Single(stderr.Split('\n'), l => l.StartsWith("warning:", StringComparison.Ordinal));
        Assert.Contains("typo.yaml", warning, StringComparison.Ordinal);
        Assert.Contains("instuctions", warning, StringComparison.Ordinal);
    }
}
