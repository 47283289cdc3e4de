using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>The small things a new user met in the terminal (issue 18, defect 12).</summary>
public sealed class CliSmallDefectTests : CliProcessTest
{
    [Fact]
    public async Task SessionsList_PipedWithColumns_UsesTheWidthGiven()
    {
        var title = "A question long enough that an eighty-column table has to wrap its title over several lines of output";
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", title)).ExitCode);

        var env = new Dictionary<string, string>(Env) { ["COLUMNS"] = "220" };
        var (exit, stdout, _) = await CliProcess.RunAsync(env, "sessions", "list");

        Assert.Equal(0, exit);
        Assert.Contains(title[..70], stdout, StringComparison.Ordinal);
        Assert.Contains(stdout.Split('\n'), line => line.TrimEnd().Length > 80);
    }

    [Fact]
    public async Task BudgetsSetAndShow_SayThePeriodInWordsAndRoundThePercentage()
    {
        var (setExit, _, setError) = await CliProcess.RunAsync(Env, "budgets", "set", "daily-cap", "--scope", "global", "--period", "daily", "--tokens", "3000");
        Assert.Equal(0, setExit);
        Assert.Contains("3,000 tokens per day", setError, StringComparison.Ordinal);
        Assert.DoesNotContain("per daily", setError, StringComparison.Ordinal);

        // The fake model reports 12 input and 7 output tokens: 19 of 3,000 is 0.6333…%.
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--max-tokens", "100", "--no-wait-quality", "Hi")).ExitCode);
        var (exit, stdout, _) = await CliProcess.RunAsync(Env, "budgets", "show", "daily-cap");
        var json = await CliProcess.RunAsync(Env, "budgets", "show", "daily-cap", "--json");

        Assert.Equal(0, exit);
        Assert.DoesNotContain("{", stdout, StringComparison.Ordinal);
        Assert.Contains("3,000 tokens per day", stdout, StringComparison.Ordinal);
        Assert.Contains("0.6 %", stdout, StringComparison.Ordinal);
        Assert.Equal(0.6, JsonNode.Parse(json.Stdout)!["utilisation_percent"]!.GetValue<double>());
    }

    [Fact]
    public async Task BudgetsList_PerSessionBudget_SaysItIsCountedPerSessionInsteadOfZeroSpent()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "per-chat", "--scope", "session", "--tokens", "100000")).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", "Hi")).ExitCode);

        var env = new Dictionary<string, string>(Env) { ["COLUMNS"] = "220" };
        var (exit, stdout, _) = await CliProcess.RunAsync(env, "budgets", "list");

        Assert.Equal(0, exit);
        Assert.Equal(("100,000 tokens for each session", "counted per session", "-"), Row(stdout, "per-chat"));
    }

    [Fact]
    public async Task BudgetsList_At80Columns_KeepsIdsWholeAndWrapsOnlyBetweenWords()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "per-chat", "--scope", "session", "--tokens", "100000")).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "team-monthly-spend", "--scope", "global", "--period", "monthly", "--usd", "250", "--mode", "soft")).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", "Hi")).ExitCode);

        var env = new Dictionary<string, string>(Env) { ["COLUMNS"] = "80" };
        var (exit, stdout, _) = await CliProcess.RunAsync(env, "budgets", "list");

        Assert.Equal(0, exit);
        Assert.All(stdout.Split('\n'), line => Assert.True(line.TrimEnd().Length <= 80, line));
        Assert.Equal(("100,000 tokens for each session", "counted per session", "-"), Row(stdout, "per-chat"));
        var (limit, spent, used) = Row(stdout, "team-monthly-spend");
        Assert.Equal("$250 per month for all agents", limit);
        // A dollar budget's spend is in dollars, with the period it covers; how much of the limit it is stays on one line.
        Assert.Matches(@"^\$0(\.\d+)? in \d{4}-\d{2}$", spent);
        Assert.Matches(@"^\d+(\.\d)? %$", used);
        // And `show` says it alike, not "0 tokens".
        var shown = await CliProcess.RunAsync(Env, "budgets", "show", "team-monthly-spend");
        var spentLine = Assert.Single(shown.Stdout.Split('\n'), l => l.TrimStart().StartsWith("spent", StringComparison.Ordinal));
        Assert.Matches(@"^spent\s+\$0(\.\d+)?$", spentLine.Trim());
    }

    // A budget's limit and spent cells, each cell's wrapped lines joined again (the row is the line with its id and the
    // lines below it with an empty id cell), and its used cell, which must not wrap: only the row's first line has it.
    private static (string Limit, string Spent, string Used) Row(string table, string id)
    {
        var cells = table.Split('\n').Where(l => l.StartsWith('│')).Select(l => l.Split('│').Select(c => c.Trim()).ToArray()).ToList();
        var first = cells.FindIndex(c => c[1] == id);
        Assert.True(first >= 0, $"No row for '{id}' in:\n{table}");
        var lines = cells.Skip(first).TakeWhile((c, i) => i == 0 || c[1].Length == 0).ToList();
        Assert.All(lines.Skip(1), c => Assert.Empty(c[4]));
        return (string.Join(' ', lines.Select(c => c[2]).Where(c => c.Length > 0)), string.Join(' ', lines.Select(c => c[3]).Where(c => c.Length > 0)), lines[0][4]);
    }

    [Fact]
    public async Task Ask_RefusedByABudget_MarksTheStageAndSaysWhyOnceOnTheErrorLine()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "tiny", "--scope", "global", "--tokens", "20")).ExitCode);

        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", "Hi");

        Assert.Equal(6, exit);
        Assert.Empty(stdout.Trim());
        var lines = stderr.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        // The stage's line ends with its name: no dangling separator where a message would be.
        Assert.Contains("✗ Budget exceeded", lines);
        var reason = Assert.Single(lines, l => l.Contains("budget 'tiny'", StringComparison.Ordinal));
        Assert.StartsWith("error: Budget exceeded for global budget 'tiny'", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_ProviderReportsMoreOutputThanTheCap_SaysSoOnceOnItsOwnLine()
    {
        Server.Reply = _ => new FakeReply { OutputTokens = 500 };

        var env = new Dictionary<string, string>(Env) { ["COLUMNS"] = "220" };
        var (exit, stdout, stderr) = await CliProcess.RunAsync(env, "ask", "--agent", "assistant", "--max-tokens", "100", "--no-wait-quality", "Hi");

        Assert.Equal(0, exit);
        var note = Assert.Single(stderr.Split('\n'), l => l.Contains("Provider anomaly", StringComparison.Ordinal));
        Assert.Contains("500 output tokens, more than the cap of 100", note, StringComparison.Ordinal);
        // Not also as a log warning, which the terminal printed in the middle of the streamed answer.
        Assert.DoesNotContain("warn:", stderr + stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_BudgetThresholdReached_AlertIsPrintedOnce()
    {
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "budgets", "set", "tiny", "--scope", "global", "--tokens", "20", "--mode", "soft", "--thresholds", "50")).ExitCode);

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--no-wait-quality", "Hi");

        Assert.Equal(0, exit);
        Assert.Single(stderr.Split('\n'), l => l.Contains("tiny", StringComparison.Ordinal) && l.Contains("50", StringComparison.Ordinal));
    }
}
