using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>The <c>steward</c> command as a child process against a fake model server and a temporary database.</summary>
public sealed class CliTests : CliProcessTest
{
    [Fact]
    public async Task Ask_StreamsAnswerToStdoutAndStagesToStderr()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "Say hello");

        Assert.Equal(0, exit);
        Assert.Equal("Hello from the fake model.", stdout.Trim());
        Assert.Contains("Checking budget", stderr, StringComparison.Ordinal);
        Assert.Contains("Completed", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AskJson_PrintsMachineReadableResult()
    {
        var (exit, stdout, _) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "Say hello");

        Assert.Equal(0, exit);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal("Completed", result["status"]!.GetValue<string>());
        Assert.Equal("Hello from the fake model.", result["text"]!.GetValue<string>());
        Assert.Equal(12, result["usage"]!["input_tokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task AskJson_Durations_AreNumbersOfMillisecondsNamedSo()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "Say hello");
        Assert.True(exit == 0, stderr);
        var result = JsonNode.Parse(stdout)!;
        var sessionId = result["session_id"]!.GetValue<string>();
        var show = await CliProcess.RunAsync(Env, "sessions", "show", sessionId, "--json");

        Assert.Null(result["duration"]);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, result["duration_ms"]!.GetValueKind());
        Assert.True(result["duration_ms"]!.GetValue<double>() > 0);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, result["time_to_first_token_ms"]!.GetValueKind());
        Assert.True(show.ExitCode == 0, show.Stderr);
        Assert.DoesNotMatch(@"""\d\d:\d\d:\d\d(\.\d+)?""", stdout + show.Stdout);
    }

    [Fact]
    public async Task Ask_TagsAndUser_StoredWithTheRunAndShownBySessionsShow()
    {
        var ask = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "--tag", "nightly", "--tag", "team:search", "--user", "ci-bot", "Say hello");
        Assert.True(ask.ExitCode == 0, ask.Stderr);
        var sessionId = JsonNode.Parse(ask.Stdout)!["session_id"]!.GetValue<string>();

        var show = await CliProcess.RunAsync(Env, "sessions", "show", sessionId, "--json");
        var tooLong = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--tag", new string('x', 65), "Hi");

        Assert.True(show.ExitCode == 0, show.Stderr);
        var run = JsonNode.Parse(show.Stdout)!["runs"]![0]!;
        Assert.Equal(["nightly", "team:search"], run["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("ci-bot", run["user_id"]!.GetValue<string>());
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("--tag: ", tooLong.Stderr, StringComparison.Ordinal);
        Assert.Contains("at most 64", tooLong.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("ask", "--help")]
    [InlineData("costs", "prices", "--help")]
    public async Task Help_AnyCommand_UsageNamesTheStewardCommand(params string[] args)
    {
        var (exit, stdout, _) = await CliProcess.RunAsync(Env, args);

        Assert.Equal(0, exit);
        Assert.Contains("steward " + string.Join(' ', args.SkipLast(1)), stdout.Replace("steward  ", "steward ", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("Steward.Cli", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3, "No agent preset named 'nope'", "ask", "--agent", "nope", "Hi")]
    [InlineData(2, "--agent", "ask", "Hi")]
    [InlineData(2, "Unrecognized command or argument", "frobnicate")]
    public async Task BadInput_OneLineReasonAndNonZeroExit(int expectedExit, string expected, params string[] args)
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, args);

        Assert.Equal(expectedExit, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProviderFailure_OneLineReasonWithoutSecretAndExitCode5()
    {
        Server.Reply = _ => new FakeReply { Error = (401, FakeModelServer.OpenAIError("Incorrect API key provided: " + TestEngine.ApiKey, "invalid_request_error")) };

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "Hi");

        Assert.Equal(5, exit);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("rejected the credentials", error, StringComparison.Ordinal);
        Assert.DoesNotContain(TestEngine.ApiKey, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoModelAndNoProvider_OneMessageSaysHowToPullOrConfigure()
    {
        var env = new Dictionary<string, string>(Env);
        env.Remove("OPENAI_API_KEY");
        env.Remove("OPENAI_BASE_URL");
        env.Remove("Steward__Providers__openai__MaxRetries");

        var (exit, _, stderr) = await CliProcess.RunAsync(env, "ask", "--agent", "assistant", "Hi");

        Assert.Equal(4, exit);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("models pull smollm2-360m", error, StringComparison.Ordinal);
        Assert.Contains("OPENAI_API_KEY", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenPreset_StopsWithFileAndLine()
    {
        await File.WriteAllTextAsync(Path.Combine(Env["Steward__Agents__Directory"], "bad.yaml"), "name: bad\ndisplay_name: Bad\ninstructions: Hi\nnot_a_field: 1\n", TestContext.Current.CancellationToken);

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "presets", "list");

        Assert.Equal(7, exit);
        Assert.Contains("bad.yaml, line 4", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatThenSessionsExportImport_RoundTripsThroughTheCli()
    {
        var ask = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "Remember 42");
        var sessionId = JsonNode.Parse(ask.Stdout)!["session_id"]!.GetValue<string>();
        var exportPath = Path.Combine(Folder.FullName, "export.json");

        Assert.Equal(0, (await CliProcess.RunAsync(Env, "sessions", "export", sessionId, "--output", exportPath)).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "sessions", "delete", sessionId, "--yes")).ExitCode);
        var import = await CliProcess.RunAsync(Env, "sessions", "import", exportPath);
        var show = await CliProcess.RunAsync(Env, "sessions", "show", sessionId, "--json");

        Assert.Equal((0, sessionId), (import.ExitCode, import.Stdout.Trim()));
        Assert.Equal("Remember 42", JsonNode.Parse(show.Stdout)!["messages"]![0]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Chat_TwoTurnsFromStdin_SecondRequestCarriesTheFirstExchange()
    {
        var (exit, stdout, _) = await CliProcess.RunWithInputAsync(Env, "My name is Ada.\nWhat is my name?\n/exit\n", "chat", "--agent", "assistant");

        Assert.Equal(0, exit);
        Assert.Equal(2, stdout.Split("Hello from the fake model.").Length - 1);
        var second = Server.Requests.Last().Json["messages"]!.AsArray();
        Assert.Equal(["system", "user", "assistant", "user"], second.Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal("My name is Ada.", second[1]!["content"]!.GetValue<string>());
        var sessions = JsonNode.Parse((await CliProcess.RunAsync(Env, "sessions", "list", "--json")).Stdout)!.AsArray();
        Assert.Equal(2, Assert.Single(sessions)!["run_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task KilledDuringRun_NextStartMarksRunInterruptedAndKeepsEarlierSessions()
    {
        var earlier = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "An earlier question");
        var earlierSession = JsonNode.Parse(earlier.Stdout)!["session_id"]!.GetValue<string>();
        Server.Reply = _ => new FakeReply { HangAfterChunks = 1 };

        using (var process = CliProcess.Start(Env, "ask", "--agent", "assistant", "Start a long answer"))
        {
            // Wait until the answer has started streaming: the run is in flight.
            var buffer = new char[5];
            var read = await process.StandardOutput.ReadBlockAsync(buffer, TestContext.Current.CancellationToken);
            Assert.Equal("Hello", new string(buffer, 0, read));
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        var list = await CliProcess.RunAsync(Env, "sessions", "list", "--json");
        var sessions = JsonNode.Parse(list.Stdout)!.AsArray();
        Assert.Equal(2, sessions.Count);
        var interruptedSession = sessions.Single(s => s!["id"]!.GetValue<string>() != earlierSession)!["id"]!.GetValue<string>();
        var interrupted = JsonNode.Parse((await CliProcess.RunAsync(Env, "sessions", "show", interruptedSession, "--json")).Stdout)!;
        Assert.Equal("Interrupted", interrupted["runs"]![0]!["status"]!.GetValue<string>());
        Assert.Empty(interrupted["messages"]!.AsArray());

        var intact = JsonNode.Parse((await CliProcess.RunAsync(Env, "sessions", "show", earlierSession, "--json")).Stdout)!;
        Assert.Equal("Completed", intact["runs"]![0]!["status"]!.GetValue<string>());
        Assert.Equal(2, intact["messages"]!.AsArray().Count);
    }
}
