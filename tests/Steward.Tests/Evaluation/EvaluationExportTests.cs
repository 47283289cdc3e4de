using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>Evaluations travel with session exports (schema_version 2) and import back without loss.</summary>
public sealed class EvaluationExportTests : EngineTest
{
    protected override void Configure(Dictionary<string, string?> settings) =>
        settings["Steward:Evaluation:Judge"] = "fake:judge-model";

    private async Task<Guid> EvaluatedSessionAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "scored.yaml"),
            TestEngine.Preset("scored", "expected_topics: [risks]\nevaluators: [topic_coverage, relevance, coherence]"), TestContext.Current.CancellationToken);
        Server.Reply = r => r.Body.Contains("You judge one quality only", StringComparison.Ordinal)
            ? new FakeReply { Chunks = [r.Body.Contains("quality only: relevance", StringComparison.Ordinal) ? """{"score": 4, "reason": "On topic."}""" : "not a verdict"] }
            : new FakeReply { Chunks = ["Risks: cost."] };
        var first = await Engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "scored", Query = "Risks?" }, TestContext.Current.CancellationToken);
        await Engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "scored", Query = "And?", SessionId = first.SessionId }, TestContext.Current.CancellationToken);
        return first.SessionId!.Value;
    }

    private static async Task<string> ExportAsync(TestEngine engine, Guid id)
    {
        using var stream = new MemoryStream();
        await engine.Get<SessionExporter>().WriteAsync(id, stream, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task Export_CarriesEachRunsEvaluationWithMetricsAndJudgeCost()
    {
        var id = await EvaluatedSessionAsync();

        var doc = JsonNode.Parse(await ExportAsync(Engine, id))!;

        Assert.Equal(Steward.Sessions.SessionExportDocument.CurrentSchemaVersion, doc["schema_version"]!.GetValue<int>());
        var evaluation = Assert.Single(doc["runs"]![0]!["evaluations"]!.AsArray())!;
        // The run's own calls and the judge's, each with its usage: the judge's add up to the evaluation's judge usage.
        var calls = doc["runs"]![0]!["model_calls"]!.AsArray();
        Assert.Equal(["Agent", "Judge", "Judge"], calls.Select(c => c!["purpose"]!.GetValue<string>()));
        Assert.Equal(24, calls.Where(c => c!["purpose"]!.GetValue<string>() == "Judge").Sum(c => c!["usage"]!["input_tokens"]!.GetValue<long>()));
        Assert.Equal(100 * (1 + 0.75) / 2, evaluation["score"]!.GetValue<double>());
        Assert.Equal("judge-model", evaluation["judge"]!["model"]!.GetValue<string>());
        Assert.Equal(24, evaluation["judge"]!["usage"]!["input_tokens"]!.GetValue<long>());
        var metrics = evaluation["metrics"]!.AsArray();
        Assert.Equal(["topic_coverage", "relevance", "coherence"], metrics.Select(m => m!["name"]!.GetValue<string>()));
        Assert.Equal("On topic.", metrics[1]!["reason"]!.GetValue<string>());
        Assert.Contains("Malformed judge verdict", metrics[2]!["diagnostics"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportThenImport_WithEvaluations_IsLossless()
    {
        var id = await EvaluatedSessionAsync();
        var exported = await ExportAsync(Engine, id);

        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl);
        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(exported)))
        {
            await other.Get<SessionExporter>().ImportAsync(input, TestContext.Current.CancellationToken);
        }

        var a = JsonNode.Parse(exported)!.AsObject();
        var b = JsonNode.Parse(await ExportAsync(other, id))!.AsObject();
        a.Remove("exported_at");
        b.Remove("exported_at");
        Assert.True(JsonNode.DeepEquals(a, b), $"Documents differ:\n{a}\n---\n{b}");
        Assert.Equal(2, b["runs"]!.AsArray().Count(r => r!["evaluations"]!.AsArray().Count == 1));
    }

    [Fact]
    public async Task Import_SchemaVersion1_StillReads()
    {
        var id = await EvaluatedSessionAsync();
        var doc = JsonNode.Parse(await ExportAsync(Engine, id))!.AsObject();
        doc["schema_version"] = 1;
        foreach (var run in doc["runs"]!.AsArray())
        {
            run!["evaluations"] = new JsonArray();
        }

        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl);
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(doc.ToJsonString()));

        Assert.Equal(id, await other.Get<SessionExporter>().ImportAsync(input, TestContext.Current.CancellationToken));
        var reexported = JsonNode.Parse(await ExportAsync(other, id))!;
        Assert.All(reexported["runs"]!.AsArray(), r => Assert.Empty(r!["evaluations"]!.AsArray()));
    }

    [Fact]
    public async Task DeleteSession_RemovesItsEvaluations()
    {
        var id = await EvaluatedSessionAsync();

        await Engine.Sessions.DeleteAsync(id, TestContext.Current.CancellationToken);

        var points = await Engine.Get<Steward.Evaluation.QualityTrends>().GetAsync(new Steward.Evaluation.QualityTrendFilter(), TestContext.Current.CancellationToken);
        Assert.Empty(points);
    }
}
