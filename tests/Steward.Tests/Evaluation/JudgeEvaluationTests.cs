using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Evaluation.Judges;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>
/// The evaluation pipeline in a real run, with the judge served by the fake model server (the real OpenAI protocol):
/// verdicts, malformed verdicts, a failing judge, and the judge's usage priced apart from the answer's.
/// </summary>
public sealed class JudgeEvaluationTests : EngineTest
{
    private const string Answer = "## Summary\nThe main risks are cost and lock-in.\n\n- Cost grows with usage\n- Lock-in is hard to undo\n";

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Evaluation:Judge"] = "fake:judge-model";
        settings["Steward:Pricing:Models:judge-model:Input"] = "1";
        settings["Steward:Pricing:Models:judge-model:CachedInput"] = "0.5";
        settings["Steward:Pricing:Models:judge-model:Output"] = "2";
    }

    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddStewardEvaluator("always_half", new FixedScoreEvaluator());

    private async Task WritePresetAsync(string evaluators, string extra = "")
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "judged.yaml"), TestEngine.Preset("judged", $"""
            expected_topics: [risks, cost, vendor lock-in]
            topic_synonyms:
              vendor lock-in: [lock-in]
            evaluators: {evaluators}
            {extra}
            """), TestContext.Current.CancellationToken);
    }

    /// <summary>Answers agent requests with <see cref="Answer"/> and judge requests with <paramref name="verdict"/> by rubric.</summary>
    private void Reply(Func<string, FakeReply> verdict) => Server.Reply = request =>
    {
        var rubric = JudgeRubric.All.FirstOrDefault(r => request.Body.Contains($"You judge one quality only: {r.Name}.", StringComparison.Ordinal));
        return rubric is null ? new FakeReply { Chunks = [Answer] } : verdict(rubric.Name);
    };

    private static FakeReply Verdict(string json) => new() { Chunks = [json] };

    private async Task<(AgentResponse Response, List<RunProgress> Events)> RunAsync()
    {
        var events = new List<RunProgress>();
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "What are the risks of a managed database?" },
            p => { lock (events) { events.Add(p); } return ValueTask.CompletedTask; }, TestContext.Current.CancellationToken);
        // Scored after delivery, in the background.
        Assert.True(response.EvaluationPending);
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, TestContext.Current.CancellationToken);
        return (response with { Quality = quality }, events);
    }

    [Fact]
    public async Task Judges_WellFormedVerdicts_ScoreAndPriceTheJudgeApartFromTheAnswer()
    {
        await WritePresetAsync("[topic_coverage, judge]", "weights: { relevance: 2 }");
        Reply(rubric => Verdict(rubric switch
        {
            "relevance" => """{"score": 5, "reason": "Answers exactly the question."}""",
            "coherence" => """```json\n{"score": 4, "reason": "Clear."}\n```""",
            _ => """{"score": 3, "reason": "Misses mitigation."}""",
        }));

        var (response, events) = await RunAsync();

        Assert.Equal(RunStatus.Completed, response.Status);
        var quality = response.Quality!;
        var metrics = quality.Metrics.ToDictionary(m => m.Name);
        Assert.Equal(5, metrics["relevance"].Value);
        Assert.Equal(1.0, metrics["relevance"].NormalizedScore);
        Assert.Equal(2, metrics["relevance"].Weight);
        Assert.Equal(4, metrics["coherence"].Value);
        Assert.Equal(3, metrics["completeness"].Value);
        Assert.Equal("Misses mitigation.", metrics["completeness"].Reason);
        // No tools ran and no reference answer: nothing to ground against.
        Assert.Null(metrics["groundedness"].NormalizedScore);
        Assert.Equal("Inconclusive", metrics["groundedness"].Rating);
        Assert.Equal(1.0, metrics["topic_coverage"].Value);
        // (1·1 + 2·1 + 1·0.75 + 1·0.5) / 5 = 0.85
        Assert.Equal(85, quality.Score);
        Assert.True(quality.Passed);
        Assert.Null(quality.Error);

        // Three judge calls of 12 input (4 cached) and 7 output tokens each, at $1 / $0.5 / $2 per million.
        var judge = quality.JudgeCost!;
        Assert.Equal(("fake", "judge-model"), (judge.Provider, judge.Model));
        Assert.Equal(new RunUsage(36, 12, 21, 6), judge.Usage);
        Assert.Equal(0.000072m, judge.Cost.Usd);
        Assert.Equal(new RunUsage(12, 4, 7, 2), response.Usage);

        var evaluating = Assert.Single(events, e => e.Quality is not null);
        Assert.Equal(RunStage.Evaluating, evaluating.Stage);
        Assert.Equal("Quality 85/100 (passed the pass mark of 70).", evaluating.Message);
        // The quality arrives after the run's terminal event.
        Assert.True(events.FindIndex(e => e.IsTerminal) < events.IndexOf(evaluating));
        Assert.Same(quality, evaluating.Quality);
    }

    [Fact]
    public async Task Judges_ScoreArrivingLater_EveryEventAfterTheEndCarriesTheRunsStoredDuration()
    {
        await WritePresetAsync("[judge]");
        // The judge takes its time: the score arrives well after the answer was delivered and stored.
        Reply(_ => new FakeReply { Chunks = ["{\"score\": 4,", " \"reason\": \"Fine.\"}"], DelayBetweenChunks = TimeSpan.FromMilliseconds(400) });

        var (response, events) = await RunAsync();

        var completed = Assert.Single(events, e => e.IsTerminal);
        var evaluating = Assert.Single(events, e => e.Quality is not null);
        Assert.True(evaluating.Timestamp - completed.Timestamp >= TimeSpan.FromMilliseconds(300));
        // The card under the answer shows the run's latency, not the time until the judge finished (the chat page showed
        // 5.50 s where History and Analytics had the stored 4.97 s).
        Assert.Equal(response.Duration, completed.Metrics.Elapsed);
        Assert.Equal(response.Duration, evaluating.Metrics.Elapsed);
        var stored = Assert.Single((await Engine.Sessions.GetAsync(response.SessionId!.Value, TestContext.Current.CancellationToken)).Runs);
        Assert.Equal(response.Duration.TotalMilliseconds, stored.DurationMs!.Value, 0.01);
    }

    [Fact]
    public async Task Judges_MalformedVerdicts_MetricsInconclusiveWithDiagnostic_RunCompletes()
    {
        await WritePresetAsync("[topic_coverage, relevance, coherence, completeness]");
        Reply(rubric => Verdict(rubric switch
        {
            "relevance" => "I would rate this answer quite highly overall.",
            "coherence" => """{"score": 9, "reason": "Off the scale."}""",
            _ => """{"score": "excellent", "reason": 1}""",
        }));

        var (response, _) = await RunAsync();

        Assert.Equal(RunStatus.Completed, response.Status);
        var metrics = response.Quality!.Metrics.ToDictionary(m => m.Name);
        foreach (var name in new[] { "relevance", "coherence", "completeness" })
        {
            Assert.Null(metrics[name].Value);
            Assert.Null(metrics[name].NormalizedScore);
            Assert.Equal("Inconclusive", metrics[name].Rating);
            Assert.Contains("Malformed judge verdict", Assert.Single(metrics[name].Diagnostics), StringComparison.Ordinal);
        }

        Assert.Contains("holds no JSON object", metrics["relevance"].Reason, StringComparison.Ordinal);
        Assert.Contains("score' 9 is outside 1–5", metrics["coherence"].Reason, StringComparison.Ordinal);
        Assert.Contains("not a whole number (\"excellent\")", metrics["completeness"].Reason, StringComparison.Ordinal);
        // Only topic coverage counts.
        Assert.Equal(100, response.Quality.Score);
    }

    [Fact]
    public async Task Judges_JudgeProviderFails_MetricsInconclusiveAndRunCompletes()
    {
        await WritePresetAsync("[topic_coverage, relevance]");
        Reply(_ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("judge exploded", "server_error")) });

        var (response, _) = await RunAsync();

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal(Answer, response.Text);
        var relevance = Assert.Single(response.Quality!.Metrics, m => m.Name == "relevance");
        Assert.Equal("Inconclusive", relevance.Rating);
        Assert.Contains("The judge call failed", Assert.Single(relevance.Diagnostics), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluation_UnknownEvaluator_StoredAsEvaluationErrorAndRunCompletes()
    {
        await WritePresetAsync("[topic_coverage, sparkle]");
        Reply(_ => Verdict("{}"));

        var (response, events) = await RunAsync();

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Contains("unknown evaluator 'sparkle'", response.Quality!.Error, StringComparison.Ordinal);
        Assert.Contains(events, e => e.Message.StartsWith("Evaluation failed: The preset names an unknown evaluator", StringComparison.Ordinal));
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var stored = await db.Evaluations.SingleAsync(e => e.RunId == response.RunId, TestContext.Current.CancellationToken);
        Assert.Contains("sparkle", stored.Error, StringComparison.Ordinal);
        Assert.Equal("Completed", (await db.Runs.SingleAsync(r => r.Id == response.RunId, TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public async Task Evaluation_CustomEvaluatorAndEveryMetric_StoredPerRun()
    {
        await WritePresetAsync("[topic_coverage, structure, always_half]", "weights: { always_half: 3 }\npass_threshold: 80");
        Reply(_ => Verdict("""{"score": 2, "reason": "Weak."}"""));

        var (response, _) = await RunAsync();

        var quality = response.Quality!;
        var names = quality.Metrics.Select(m => m.Name).ToArray();
        Assert.Equal(["topic_coverage", "structure", "half", "relevance", "coherence", "groundedness", "completeness"], names);
        Assert.Equal(3, quality.Metrics.Single(m => m.Name == "half").Weight);
        Assert.Equal("always_half", quality.Metrics.Single(m => m.Name == "half").Evaluator);
        Assert.Equal(80, quality.PassThreshold);
        Assert.False(quality.Passed);

        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var stored = await db.EvaluationMetrics.Where(m => m.RunId == response.RunId).OrderBy(m => m.Sequence).ToListAsync(TestContext.Current.CancellationToken);
        Assert.Equal(names, stored.Select(m => m.Name));
        Assert.Equal(quality.Metrics.Select(m => m.NormalizedScore), stored.Select(m => m.NormalizedScore));
        var evaluation = await db.Evaluations.SingleAsync(e => e.RunId == response.RunId, TestContext.Current.CancellationToken);
        Assert.Equal(quality.Score, evaluation.Score);
        // Groundedness had nothing to ground against and did not call the judge: three calls of 12 input tokens.
        Assert.Equal(36, evaluation.JudgeInputTokens);
    }

    [Fact]
    public async Task Groundedness_WithToolResults_HandsTheSourcesToTheJudge()
    {
        var judge = new RecordingJudge("""{"score": 2, "reason": "The 40% figure is not in the sources."}""");
        var evaluator = new LlmJudgeEvaluator(JudgeRubric.Groundedness);

        var result = await evaluator.EvaluateAsync([new ChatMessage(ChatRole.User, "How big is the market?")],
            new ChatResponse(new ChatMessage(ChatRole.Assistant, "It grew 40%.")), new ChatConfiguration(judge),
            [new ToolSources([new ToolResult("web_search", "The market grew 12% in 2024 (IDC).")])], TestContext.Current.CancellationToken);

        var metric = (NumericMetric)result.Metrics["groundedness"];
        Assert.Equal(2, metric.Value);
        Assert.Equal(0.25, QualityScorer.Normalize(metric));
        Assert.Contains("SOURCES (what the assistant's tools returned):\n- [web_search] The market grew 12% in 2024 (IDC).", judge.LastPrompt, StringComparison.Ordinal);
        Assert.NotNull(Assert.IsType<ChatResponseFormatJson>(judge.LastOptions!.ResponseFormat).Schema);
    }

    [Theory]
    [InlineData("""{"score": 4, "reason": "ok"}""", 4)]
    [InlineData("""Sure! {"score": 1, "reason": "bad"} Hope this helps.""", 1)]
    [InlineData("""{"score": 3.0, "reason": "fine"}""", 3)]
    [InlineData("""{"score": "5", "reason": "fine"}""", 5)]
    [InlineData("""{"score": 0, "reason": "x"}""", null)]
    [InlineData("""{"score": 2.5, "reason": "x"}""", null)]
    [InlineData("""{"reason": "no score"}""", null)]
    [InlineData("""{"score": 4, "reason": "unterminated""", null)]
    [InlineData("", null)]
    public void Verdict_Parse(string reply, int? expected)
    {
        var ok = JudgeVerdict.TryParse(reply, out var verdict, out var problem);

        Assert.Equal(expected is not null, ok);
        Assert.Equal(expected, verdict?.Score);
        Assert.Equal(ok, problem.Length == 0);
    }

    private sealed class FixedScoreEvaluator : IEvaluator
    {
        public IReadOnlyCollection<string> EvaluationMetricNames => ["half"];

        public ValueTask<EvaluationResult> EvaluateAsync(IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
            IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(new EvaluationResult(new NumericMetric("half", 0.5, "A custom evaluator's fixed opinion.")));
    }

    /// <summary>A judge test double that records what it was asked and replies with a fixed text.</summary>
    private sealed class RecordingJudge(string reply) : IChatClient
    {
        public string LastPrompt { get; private set; } = "";

        public ChatOptions? LastOptions { get; private set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            LastPrompt = string.Join("\n", messages.Select(m => m.Text));
            LastOptions = options;
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, reply)));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
