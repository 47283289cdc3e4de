using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>The embedded engine as the <c>local</c> provider, on a real GGUF model.</summary>
public sealed class LocalProviderTests
{
    [Fact]
    public async Task RunAsync_LocalProviderWithGgufPath_CompletesWithExactUsageAndSelfHostedCost()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await StartLocalAsync(model);
        var deltas = new List<string>();

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once upon a time", MaxOutputTokens = 12 },
            p => { if (p.TextDelta is { } d) { deltas.Add(d); } return ValueTask.CompletedTask; }, TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal("local", response.Provider);
        Assert.InRange(response.Usage.OutputTokens, 1, 12);
        Assert.True(response.Usage.InputTokens > 5);
        Assert.NotEmpty(deltas);
        Assert.Equal(string.Concat(deltas), response.Text);
        Assert.Equal(new RunCost(0m, SelfHosted: true), response.Cost);
    }

    [Fact]
    public async Task RunAsync_EmbeddedEngineAsTheJudge_GivesEveryJudgedQualityAVerdict()
    {
        // The judge asks for {"score": 1-5, ...} with the score's bounds in its schema; the embedded engine used to refuse
        // the bounds, so a newcomer's judge on the default engine failed every time.
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await StartLocalAsync(model, s => s["Steward:Evaluation:Judge"] = "local");

        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "judged.yaml"), TestEngine.Preset("judged", "evaluators: [judge]"), TestContext.Current.CancellationToken);

        var response = await engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "judged", Query = "Once upon a time", MaxOutputTokens = 24 },
            TestContext.Current.CancellationToken);

        var quality = Assert.IsType<QualityResult>(response.Quality);
        foreach (var name in new[] { "relevance", "coherence", "completeness" })
        {
            var metric = Assert.Single(quality.Metrics, m => m.Name == name);
            Assert.True(metric.Value is >= 1 and <= 5, $"{name}: {metric.Value} ({metric.Reason}; {string.Join("; ", metric.Diagnostics)})");
        }

        Assert.True(quality.JudgeCost!.Usage.OutputTokens > 0);
        Assert.Equal(new RunCost(0m, SelfHosted: true), quality.JudgeCost.Cost);
    }

    [Fact]
    public async Task ModelsRun_RawGreedy_PrintsLlamaCppContinuation()
    {
        var model = TestModels.Require("stories260K.gguf");

        var (exit, stdout, _) = await CliProcess.RunAsync(new Dictionary<string, string>(),
            "models", "run", model, "Once upon a time", "--raw", "--temperature", "0", "--max-tokens", "32");

        Assert.Equal(0, exit);
        Assert.Equal(", there was a little girl named Lily. She loved to play outside in the park. One day, she saw", stdout.Trim());
    }

    [Fact]
    public async Task Ask_NoModelDownloaded_SaysHowToPullOrConfigure()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:LocalModels:ModelsDirectory"] = Path.Combine(Path.GetTempPath(), "steward-empty-models-" + Guid.NewGuid());
        });

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("provider_not_configured", response.Error!.Code);
        Assert.Contains("models pull smollm2-360m", response.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ParallelRequestsOutOfRange_FailsNamingTheSetting()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await StartLocalAsync(model, s => s["Steward:LocalModels:ParallelRequests"] = "0");

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("provider_not_configured", response.Error!.Code);
        Assert.Contains("Steward:LocalModels:ParallelRequests", response.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ConversationOutgrowsTheWindow_EveryTurnCompletesWithTheOldestTurnsLeftOut()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await StartLocalAsync(model);
        // A cap longer than the model's window leaves, so both the cap and the history must be fitted.
        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "talker.yaml"), TestEngine.Preset("talker", "max_output_tokens: 700"), TestContext.Current.CancellationToken);
        Guid? session = null;
        var notes = new List<string>();
        var turns = new List<AgentResponse>();

        for (var turn = 0; turn < 6; turn++)
        {
            var response = await engine.Runner.RunAsync(new RunRequest { Preset = "talker", Query = $"Tell me part {turn + 1} of a story about a brave little bird.", SessionId = session },
                p => { if (p.TextDelta is null) { notes.Add(p.Message); } return ValueTask.CompletedTask; }, TestContext.Current.CancellationToken);
            session ??= response.SessionId;
            turns.Add(response);
        }

        Assert.All(turns, r => Assert.Equal(RunStatus.Completed, r.Status));
        Assert.Contains(notes, n => n.StartsWith("Left out the", StringComparison.Ordinal) && n.EndsWith("to fit the model's 2,048-token context window.", StringComparison.Ordinal));
        // What was sent and generated always fitted the window, and the usage is what was really sent.
        Assert.All(turns, r => Assert.InRange(r.Usage.InputTokens + r.Usage.OutputTokens, 1, 2048));
        Assert.All(turns, r => Assert.True(r.Calls[0].MaxOutputTokens <= 2048 - r.Usage.InputTokens));
    }

    [Fact]
    public async Task RunAsync_CapLargerThanTheWindow_IsFittedAndWhatIsReservedIsWhatIsSent()
    {
        await using var engine = await StartLocalAsync(TestModels.Require("stories260K.gguf"));
        await engine.Get<Steward.Budgets.BudgetPolicyCatalog>().SetAsync(
            new Steward.Budgets.BudgetPolicy { Id = "global", Scope = Steward.Budgets.BudgetScope.Global, MaxTokens = 1_000_000 }, TestContext.Current.CancellationToken);
        var notes = new List<string>();

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once upon a time", MaxOutputTokens = 100_000 },
            p => { notes.Add(p.Message); return ValueTask.CompletedTask; }, TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        var call = Assert.Single(response.Calls);
        Assert.Equal(2048 - response.Usage.InputTokens, (long)call.MaxOutputTokens!.Value);
        Assert.Contains(notes, n => n.StartsWith(FormattableString.Invariant($"Reserved up to 2,048 tokens ({response.Usage.InputTokens:N0} prompt"), StringComparison.Ordinal));
    }

    private static Task<TestEngine> StartLocalAsync(string model, Action<Dictionary<string, string?>>? configure = null) =>
        TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:Providers:local:Kind"] = "local";
            s["Steward:Providers:local:Model"] = model;
            configure?.Invoke(s);
        });
}
