using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>Steward:Evaluation settings: validated together at start; custom evaluators registered by type name.</summary>
public sealed class EvaluationOptionsTests
{
    [Fact]
    public void Validate_BadSettings_ListsEveryProblemWithTheKeyToFix()
    {
        var options = new EvaluationOptions
        {
            PassThreshold = 150,
            Judge = "  ",
            Evaluators = new() { ["structure"] = "X, Y", ["missing"] = "No.Such.Type, Nowhere", ["not_evaluator"] = "System.String" },
        };

        var result = new EvaluationOptionsValidator().Validate(null, options);

        var failures = result.Failures!.ToArray();
        Assert.Equal(5, failures.Length);
        Assert.Contains(failures, f => f.Contains("Steward:Evaluation:PassThreshold must be between 0 and 100", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Steward:Evaluation:Judge '  ' must be PROVIDER:MODEL", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Evaluators:structure uses a built-in evaluator's name", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Evaluators:missing: type 'No.Such.Type, Nowhere' was not found", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Evaluators:not_evaluator: type 'System.String' is not a concrete", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cloud:gpt-4.1-mini", "cloud", "gpt-4.1-mini")]
    [InlineData("ollama:llama3.2:3b", "ollama", "llama3.2:3b")]
    [InlineData("work", "work", null)]
    [InlineData("work:", "work", null)]
    public void ParseJudge_SplitsAtTheFirstColon(string judge, string provider, string? model) =>
        Assert.Equal((provider, model), EvaluationOptions.ParseJudge(judge));

    [Fact]
    public async Task Engine_BadEvaluationSettings_FailAtStart()
    {
        // Options are validated when the engine starts (or, at the latest, when they are first read): never mid-run.
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s => s["Steward:Evaluation:PassThreshold"] = "-1");
            _ = engine.Get<IOptions<EvaluationOptions>>().Value;
        });

        Assert.Contains("PassThreshold", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfiguredEvaluator_ByTypeName_RunsWhenAPresetListsIt()
    {
        await using var server = await FakeModelServer.StartAsync();
        await using var engine = await TestEngine.StartAsync(server.OpenAIUrl,
            s => s["Steward:Evaluation:Evaluators:word_count"] = typeof(WordCountEvaluator).AssemblyQualifiedName);
        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "counted.yaml"), TestEngine.Preset("counted", "evaluators: [word_count]"), TestContext.Current.CancellationToken);

        var response = await engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "counted", Query = "Hi" }, TestContext.Current.CancellationToken);

        var metric = Assert.Single(response.Quality!.Metrics);
        Assert.Equal(("words", "word_count", 5.0), (metric.Name, metric.Evaluator, metric.Value));
        // A custom numeric metric outside 0–1 with a rating counts by its rating (Good: 0.75).
        Assert.Equal(0.75, metric.NormalizedScore);
        Assert.Equal(75, response.Quality.Score);
    }
}

/// <summary>A custom evaluator as a user would write one, registered by type name in configuration.</summary>
public sealed class WordCountEvaluator : IEvaluator
{
    public IReadOnlyCollection<string> EvaluationMetricNames => ["words"];

    public ValueTask<EvaluationResult> EvaluateAsync(IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
        IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default)
    {
        var metric = new NumericMetric("words", modelResponse.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length, "Counted the words.")
        {
            Interpretation = new EvaluationMetricInterpretation(EvaluationRating.Good),
        };
        return ValueTask.FromResult(new EvaluationResult(metric));
    }
}
