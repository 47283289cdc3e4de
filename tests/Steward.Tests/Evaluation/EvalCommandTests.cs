using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>
/// <c>steward eval</c> as a child process: on the fake model server (a test double speaking the OpenAI protocol) and on
/// the embedded engine with a real GGUF model. Reports are written and the exit codes gate as documented.
/// </summary>
public sealed class EvalCommandTests : IAsyncLifetime
{
    private FakeModelServer _server = null!;
    private DirectoryInfo _folder = null!;
    private Dictionary<string, string> _env = null!;
    private string Agents => Path.Combine(_folder.FullName, "agents");

    public async ValueTask InitializeAsync()
    {
        _server = await FakeModelServer.StartAsync();
        _folder = Directory.CreateTempSubdirectory("steward-eval-");
        Directory.CreateDirectory(Agents);
        await File.WriteAllTextAsync(Path.Combine(Agents, "advisor.yaml"), TestEngine.Preset("advisor",
            "expected_topics: [risks]\nevaluators: [topic_coverage, refusal]\npass_threshold: 60"), TestContext.Current.CancellationToken);
        _env = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = Agents,
            ["OPENAI_API_KEY"] = TestEngine.ApiKey,
            ["OPENAI_BASE_URL"] = _server.OpenAIUrl,
            ["Steward__Providers__openai__MaxRetries"] = "0",
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private async Task<string> DatasetAsync(string name, params string[] lines)
    {
        var path = Path.Combine(_folder.FullName, name);
        await File.WriteAllLinesAsync(path, lines, TestContext.Current.CancellationToken);
        return path;
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> EvalAsync(params string[] args) =>
        CliProcess.RunAsync(_env, ["eval", .. args, "--output", Path.Combine(_folder.FullName, "reports")]);

    private string[] Reports(string extension) => Directory.GetFiles(Path.Combine(_folder.FullName, "reports"), "*." + extension).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Eval_GoodAnswers_Exit0_WritesHtmlAndJsonReports()
    {
        _server.Reply = _ => new FakeReply { Chunks = ["The main risks are cost and lock-in."] };
        var dataset = await DatasetAsync("d.jsonl", """{"id": "one", "question": "Risks?"}""", """{"id": "two", "question": "Risks again?", "tags": ["x"]}""");

        var (exit, stdout, stderr) = await EvalAsync(dataset, "--agent", "advisor", "--fail-under", "90");

        Assert.True(exit == 0, stderr);
        Assert.Contains("advisor on d.jsonl", stdout, StringComparison.Ordinal);
        var report = JsonNode.Parse(await File.ReadAllTextAsync(Assert.Single(Reports("json")), TestContext.Current.CancellationToken))!;
        Assert.Equal(100, report["totals"]!["mean_score"]!.GetValue<double>());
        Assert.Equal(2, report["cases"]!.AsArray().Count);
        var html = await File.ReadAllTextAsync(Assert.Single(Reports("html")), TestContext.Current.CancellationToken);
        Assert.Contains("The main risks are cost and lock-in.", html, StringComparison.Ordinal);
        Assert.Contains("Covers 1 of 1 expected topics", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_BelowFailUnder_Exit8()
    {
        _server.Reply = _ => new FakeReply { Chunks = ["Nothing relevant here."] };
        var dataset = await DatasetAsync("d.jsonl", """{"question": "Risks?"}""");

        var (exit, _, stderr) = await EvalAsync(dataset, "--agent", "advisor", "--fail-under", "80");

        Assert.Equal(8, exit);
        Assert.True(stderr.Contains("error: mean score 66.7 is below --fail-under 80.", StringComparison.Ordinal), stderr);
        Assert.Single(Reports("html"));
    }

    [Fact]
    public async Task Eval_RegressionAgainstBaseline_Exit9_ByFileAndByBatchId()
    {
        var dataset = await DatasetAsync("d.jsonl", """{"id": "a", "question": "Risks?"}""", """{"id": "b", "question": "More risks?"}""");
        _server.Reply = _ => new FakeReply { Chunks = ["The risks are clear."] };
        var (first, stdout, _) = await EvalAsync(dataset, "--agent", "advisor");
        Assert.Equal(0, first);
        var baselineFile = Assert.Single(Reports("json"));
        var batchId = JsonNode.Parse(await File.ReadAllTextAsync(baselineFile, TestContext.Current.CancellationToken))!["batch_id"]!.GetValue<string>();
        Assert.Contains(batchId, stdout, StringComparison.Ordinal);

        _server.Reply = _ => new FakeReply { Chunks = ["I have nothing to add."] };
        var (byFile, _, stderr) = await EvalAsync(dataset, "--agent", "advisor", "--baseline", baselineFile);
        var (byId, _, _) = await EvalAsync(dataset, "--agent", "advisor", "--baseline", batchId, "--tolerance", "5");
        var (tolerated, _, _) = await EvalAsync(dataset, "--agent", "advisor", "--baseline", batchId, "--tolerance", "60");

        Assert.Equal(9, byFile);
        // Topic coverage drops from 1 to 0 beside refusal and hedging: 100 → 66.7.
        Assert.True(stderr.Contains("mean score fell 33.3 points against the baseline (100.0 → 66.7), more than the tolerance of 2.", StringComparison.Ordinal), stderr);
        Assert.Equal(9, byId);
        Assert.Equal(0, tolerated);
        var html = await File.ReadAllTextAsync(Reports("html")[^1], TestContext.Current.CancellationToken);
        Assert.Contains("Against the baseline", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "bad.jsonl, line 1: invalid JSON", "bad.jsonl", "--agent", "advisor")]
    [InlineData(3, "File not found: ", "missing.jsonl", "--agent", "advisor")]
    [InlineData(3, "No agent preset named 'nope'", "good.jsonl", "--agent", "nope")]
    [InlineData(2, "--concurrency: '0' is not a whole number from 1 to 64", "good.jsonl", "--agent", "advisor", "--concurrency", "0")]
    [InlineData(3, "No stored evaluation batch", "good.jsonl", "--agent", "advisor", "--baseline", "01234567-89ab-cdef-0123-456789abcdef")]
    [InlineData(4, "Judge 'nowhere:m'", "good.jsonl", "--agent", "judged", "--judge", "nowhere:m")]
    public async Task Eval_BadInput_OneLineReasonAndExitCode(int expectedExit, string expected, string file, params string[] args)
    {
        await DatasetAsync("bad.jsonl", "{oops");
        await DatasetAsync("good.jsonl", """{"question": "Risks?"}""");
        await File.WriteAllTextAsync(Path.Combine(Agents, "judged.yaml"), TestEngine.Preset("judged", "evaluators: [relevance]"), TestContext.Current.CancellationToken);

        var (exit, _, stderr) = await CliProcess.RunAsync(_env, ["eval", Path.Combine(_folder.FullName, file), .. args]);

        Assert.True(expectedExit == exit, stderr);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_EmbeddedEngine_RealTokensAndLatency_PassFailAndRegressionExitCodes()
    {
        var model = TestModels.Require("stories260K.gguf");
        _env["Steward__DefaultProvider"] = "local";
        _env["Steward__Providers__local__Kind"] = "local";
        _env["Steward__Providers__local__Model"] = model;
        await File.WriteAllTextAsync(Path.Combine(Agents, "storyteller.yaml"), TestEngine.Preset("storyteller",
            "evaluators: [topic_coverage, length, readability, refusal]\ntemperature: 0\nmax_output_tokens: 24"), TestContext.Current.CancellationToken);
        var plain = await DatasetAsync("stories.jsonl", """{"id": "a", "question": "Once upon a time"}""", """{"id": "b", "question": "Lily went to the park"}""");
        // The same cases, now expecting a topic a 260K-parameter story model never writes about.
        var demanding = await DatasetAsync("stories-demanding.jsonl",
            """{"id": "a", "question": "Once upon a time", "expected_topics": ["quantum chromodynamics"]}""",
            """{"id": "b", "question": "Lily went to the park", "expected_topics": ["quantum chromodynamics"]}""");

        var (pass, _, passErr) = await EvalAsync(plain, "--agent", "storyteller", "--fail-under", "20", "--concurrency", "2");
        Assert.True(pass == 0, passErr);
        var baseline = Assert.Single(Reports("json"));
        var report = JsonNode.Parse(await File.ReadAllTextAsync(baseline, TestContext.Current.CancellationToken))!;
        var totals = report["totals"]!;
        Assert.Equal(2, totals["completed"]!.GetValue<int>());
        Assert.True(totals["tokens"]!["input_tokens"]!.GetValue<long>() > 2);
        Assert.InRange(totals["tokens"]!["output_tokens"]!.GetValue<long>(), 2, 48);
        Assert.True(totals["latency"]!["p50"]!.GetValue<double>() > 0);
        Assert.True(totals["cost_usd"]!.GetValue<decimal>() == 0 && totals["unpriced_cases"]!.GetValue<int>() == 0, "self-hosted runs cost $0");
        Assert.All(report["cases"]!.AsArray(), c => Assert.NotEmpty(c!["answer"]!.GetValue<string>()));
        var html = await File.ReadAllTextAsync(Assert.Single(Reports("html")), TestContext.Current.CancellationToken);
        Assert.Contains("readability", html, StringComparison.Ordinal);

        // Topic coverage 0 beside four other metrics caps the score at 80.
        var (fail, _, _) = await EvalAsync(demanding, "--agent", "storyteller", "--fail-under", "90");
        var (regressed, _, regressedErr) = await EvalAsync(demanding, "--agent", "storyteller", "--baseline", baseline);

        Assert.Equal(8, fail);
        Assert.True(regressed == 9, regressedErr);
        Assert.Equal(3, Reports("html").Length);
    }
}
