using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>With the response cache on, a judge verdict served from the cache is not charged again; a throwing evaluator is contained.</summary>
public sealed class JudgeCacheTests : EngineTest
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Evaluation:Judge"] = "fake:judge-model";
        settings["Steward:ResponseCache:Enabled"] = "true";
    }

    protected override void ConfigureServices(IServiceCollection services) => services.AddStewardEvaluator("boom", new ThrowingEvaluator());

    [Fact]
    public async Task CachedVerdict_CostsNoJudgeTokens_AndAThrowingEvaluatorIsRecordedAsTheError()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "cached.yaml"),
            TestEngine.Preset("cached", "expected_topics: [risks]\nevaluators: [topic_coverage, relevance, boom]"), TestContext.Current.CancellationToken);
        Server.Reply = r => new FakeReply { Chunks = [r.Body.Contains("You judge one quality only", StringComparison.Ordinal) ? """{"score": 5, "reason": "Good."}""" : "Risks: cost."] };
        var request = new RunRequest { Preset = "cached", Query = "Risks?" };

        var first = await Engine.Runner.RunAndScoreAsync(request, TestContext.Current.CancellationToken);
        var second = await Engine.Runner.RunAndScoreAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(12, first.Quality!.JudgeCost!.Usage.InputTokens);
        Assert.True(second.FromCache);
        Assert.Equal(RunUsage.Zero, second.Quality!.JudgeCost!.Usage);
        Assert.Equal(5, second.Quality.Metrics.Single(m => m.Name == "relevance").Value);

        Assert.Equal(RunStatus.Completed, first.Status);
        Assert.Equal("Evaluator 'boom' failed: kaboom", first.Quality.Error);
        var boom = Assert.Single(first.Quality.Metrics, m => m.Evaluator == "boom");
        Assert.Equal(("boom_metric", "Inconclusive"), (boom.Name, boom.Rating));
        // The other metrics still count: topic coverage 1 and relevance 1.
        Assert.Equal(100, first.Quality.Score);
    }

    private sealed class ThrowingEvaluator : IEvaluator
    {
        public IReadOnlyCollection<string> EvaluationMetricNames => ["boom_metric"];

        public ValueTask<EvaluationResult> EvaluateAsync(IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
            IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("kaboom");
    }
}
