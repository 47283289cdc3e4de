using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Evaluation.Batches;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>Batch evaluation in process, on an instant test-double model: concurrency bound, accounting, baselines, reports.</summary>
public sealed class EvaluationBatchTests : EngineTest
{
    private readonly InstantChatClientProvider _model = new();
    private int _inFlight;
    private int _maxInFlight;

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IChatClientProvider>(_model);

    private async Task WritePresetAsync(string evaluators = "[topic_coverage, length, refusal]") =>
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "batch.yaml"),
            TestEngine.Preset("batch", $"evaluators: {evaluators}\npass_threshold: 60"), TestContext.Current.CancellationToken);

    private static EvaluationCase[] Cases(int count, params string[] topics) =>
        Enumerable.Range(1, count).Select(i => new EvaluationCase($"case-{i}", $"Question {i}?", topics, null, ["t"])).ToArray();

    [Fact]
    public async Task Batch_1000Cases_RespectsConcurrencyBound_AndAccountsForEveryCase()
    {
        await WritePresetAsync();
        _model.Delay = async ct =>
        {
            var now = Interlocked.Increment(ref _inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
            {
            }

            try
            {
                await Task.Delay(3, ct);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        };
        var done = 0;

        var report = await Engine.Get<EvaluationBatchRunner>().RunAsync(
            new EvaluationBatchRequest { Dataset = "big.jsonl", Cases = Cases(1000, "ok"), Preset = "batch", Concurrency = 8 },
            _ => { Interlocked.Increment(ref done); return ValueTask.CompletedTask; }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.InRange(_maxInFlight, 2, 8);
        Assert.Equal(1000, _model.Calls);
        Assert.Equal(1000, done);
        Assert.Equal(1000, report.Cases.Count);
        Assert.Equal(1000, report.Cases.Select(c => c.Id).Distinct().Count());
        Assert.Equal(1000, report.Cases.Select(c => c.RunId).Distinct().Count());
        Assert.All(report.Cases, c => Assert.Equal(RunStatus.Completed, c.Status));
        Assert.Equal((1000, 1000, 0), (report.Totals.Cases, report.Totals.Completed, report.Totals.Failed));
        Assert.Equal(new RunUsage(10_000, 0, 5_000, 0), report.Totals.Tokens);
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1000, await db.Evaluations.CountAsync(e => e.BatchId == report.BatchId, TestContext.Current.CancellationToken));
        Assert.Equal(1000, await db.Runs.CountAsync(r => r.Status == "Completed", TestContext.Current.CancellationToken));
        // Every case's run is tagged, so History and Traces can tell evaluation runs from conversations.
        Assert.Equal(1000, await db.RunTags.CountAsync(t => t.Tag == RunMetadata.EvaluationTag, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Batch_FailedRuns_ScoreZeroAndAreCounted()
    {
        await WritePresetAsync();
        var calls = 0;
        // Every second call fails as a refused connection would.
        _model.Delay = _ => Interlocked.Increment(ref calls) % 2 == 0 ? throw new HttpRequestException("Connection refused") : Task.CompletedTask;

        var report = await Engine.Get<EvaluationBatchRunner>().RunAsync(
            new EvaluationBatchRequest { Dataset = "d.jsonl", Cases = Cases(6, "ok"), Preset = "batch", Concurrency = 1 },
            cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal((6, 3, 3), (report.Totals.Cases, report.Totals.Completed, report.Totals.Failed));
        Assert.All(report.Cases.Where(c => c.Status == RunStatus.Failed), c => Assert.Equal((0.0, false), (c.Score, c.Passed)));
        Assert.Equal(0.5, report.Totals.PassRate);
        Assert.Equal(Math.Round(report.Cases.Average(c => c.Score), 2), report.Totals.MeanScore);
    }

    [Fact]
    public async Task Batch_PresetWithoutEvaluators_SaysHowToAddThem()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => Engine.Get<EvaluationBatchRunner>().RunAsync(
            new EvaluationBatchRequest { Dataset = "d.jsonl", Cases = Cases(1), Preset = "assistant" }, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("lists no evaluators", ex.Message, StringComparison.Ordinal);
        Assert.Contains("assistant.yaml", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Baseline_StoredBatch_LoadsBackAndComparesCaseByCase()
    {
        await WritePresetAsync();
        var runner = Engine.Get<EvaluationBatchRunner>();
        var good = await runner.RunAsync(new EvaluationBatchRequest { Dataset = "d.jsonl", Cases = Cases(4, "ok"), Preset = "batch" }, cancellationToken: TestContext.Current.CancellationToken);
        await runner.SaveAsync(good, TestContext.Current.CancellationToken);

        var worse = await runner.RunAsync(new EvaluationBatchRequest { Dataset = "d.jsonl", Cases = Cases(4, "ok", "zebra"), Preset = "batch" }, cancellationToken: TestContext.Current.CancellationToken);
        var baseline = await runner.LoadAsync(good.BatchId, TestContext.Current.CancellationToken);
        var compared = EvaluationBatchRunner.CompareWith(worse, baseline!, good.BatchId.ToString(), tolerance: 2);

        Assert.Equal(good.Totals.MeanScore, baseline!.Totals.MeanScore);
        var b = compared.Baseline!;
        Assert.True(b.Regressed);
        Assert.Equal(Math.Round(worse.Totals.MeanScore - good.Totals.MeanScore, 2), b.ScoreDelta);
        Assert.True(b.ScoreDelta < -2);
        Assert.Equal(4, b.Cases.Count);
        Assert.All(b.Cases, c => Assert.True(c.Delta < 0));
        Assert.False(EvaluationBatchRunner.CompareWith(good, baseline, "same", tolerance: 0).Baseline!.Regressed);
    }

    [Fact]
    public async Task HtmlReport_IsSelfContainedAndEncodesEverything()
    {
        await WritePresetAsync();
        var report = await Engine.Get<EvaluationBatchRunner>().RunAsync(new EvaluationBatchRequest
        {
            Dataset = "d.jsonl", Preset = "batch", Cases = [new EvaluationCase("<script>x</script>", "Is 1 < 2 & \"so\"?", ["ok"], null, ["<b>"])],
        }, cancellationToken: TestContext.Current.CancellationToken);

        var html = HtmlReportWriter.Write(report);

        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;x&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("Is 1 &lt; 2 &amp; &quot;so&quot;?", html, StringComparison.Ordinal);
        Assert.Contains("topic_coverage", html, StringComparison.Ordinal);
        Assert.Contains("mean score", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QualityTrends_PerPresetAndDay_FromStoredEvaluations()
    {
        await WritePresetAsync();
        await Engine.Get<EvaluationBatchRunner>().RunAsync(new EvaluationBatchRequest { Dataset = "d.jsonl", Cases = [.. Cases(2, "ok"), .. Cases(2, "zebra").Select(c => c with { Id = c.Id + "z" })], Preset = "batch" },
            cancellationToken: TestContext.Current.CancellationToken);

        var points = await Engine.Get<QualityTrends>().GetAsync(new QualityTrendFilter { Preset = "batch" }, TestContext.Current.CancellationToken);

        var point = Assert.Single(points);
        Assert.Equal(("batch", DateOnly.FromDateTime(DateTime.UtcNow), 4), (point.Preset, point.Day, point.Evaluations));
        Assert.Equal(0.5, point.MetricMeans["topic_coverage"]);
        Assert.Equal(0.5, point.PassRate);
        Assert.Empty(await Engine.Get<QualityTrends>().GetAsync(new QualityTrendFilter { Preset = "other" }, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("{\"question\": \"a\"}\nnot json\n", "d.jsonl, line 2: invalid JSON")]
    [InlineData("{\"question\": \"\"}\n", "line 1: 'question' is missing or empty")]
    [InlineData("{\"question\": \"a\", \"topics\": []}\n", "line 1: unknown field 'topics'. Known fields: id, question, expected_topics")]
    [InlineData("{\"id\": \"x\", \"question\": \"a\"}\n\n{\"id\": \"x\", \"question\": \"b\"}\n", "line 3: id 'x' is already used on line 1")]
    [InlineData("{\"question\": \"a\", \"tags\": \"t\"}\n", "line 1: 'tags' must be a list of strings")]
    [InlineData("\n\n", "the dataset has no cases")]
    public void Dataset_Invalid_NamesFileAndLine(string text, string expected)
    {
        var ex = Assert.Throws<EvaluationDatasetException>(() => EvaluationDataset.Parse("d.jsonl", text.Split('\n')));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dataset_ShippedSamples_ParseForEveryShippedPreset()
    {
        var repository = SourceRoot();
        foreach (var preset in new[] { "market_analyst", "tech_advisor", "general_assistant" })
        {
            var cases = await EvaluationDataset.LoadAsync(Path.Combine(repository, "datasets", preset + ".jsonl"), TestContext.Current.CancellationToken);
            Assert.True(cases.Count >= 5, $"{preset} has {cases.Count} cases");
            Assert.All(cases, c => Assert.NotEmpty(c.ExpectedTopics!));
        }
    }

    private static string SourceRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", ".."));
}
