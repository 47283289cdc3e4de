using System.Text;
using OpenTelemetry.Trace;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

/// <summary>
/// A real run (OpenAI-compatible SDK against the fake model server) exported over OTLP/HTTP protobuf to a receiver on a
/// loopback port, decoded there by hand.
/// </summary>
[Collection(SerialTelemetryTests.Name)]
public sealed class OtlpExportTests : IAsyncLifetime
{
    private const string Question = "Which sea borders Mauritania-7c1e?";
    private FakeModelServer _model = null!;
    private OtlpReceiver _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _model = await FakeModelServer.StartAsync();
        _receiver = await OtlpReceiver.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _model.DisposeAsync();
    }

    private Task<TestEngine> StartEngineAsync(Action<Dictionary<string, string?>>? configure = null) =>
        TestEngine.StartAsync(_model.OpenAIUrl, s =>
        {
            s["Steward:Telemetry:Exporters:0"] = "otlp";
            s["Steward:Telemetry:Otlp:Endpoint"] = _receiver.BaseUrl;
            s["Steward:Telemetry:Otlp:Protocol"] = "http/protobuf";
            s["Steward:Pricing:Models:fake-model:Input"] = "2";
            s["Steward:Pricing:Models:fake-model:CachedInput"] = "1";
            s["Steward:Pricing:Models:fake-model:Output"] = "8";
            configure?.Invoke(s);
        });

    private async Task<IReadOnlyList<ReceivedSpan>> ExportedAsync(TestEngine engine, AgentResponse response, int atLeast = 1)
    {
        Assert.NotNull(response.TraceId);
        engine.Get<TracerProvider>().ForceFlush(10_000);
        return await _receiver.WaitForTraceAsync(response.TraceId, s => s.Count >= atLeast, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task RealRun_ExportsSpanTreeGenAiAttributesTokensAndCost()
    {
        await using var engine = await StartEngineAsync();
        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = Question }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(RunStatus.Completed, response.Status);

        var spans = await ExportedAsync(engine, response, atLeast: 7);
        var root = Assert.Single(spans, s => s.ParentSpanId is null);
        Assert.Equal("agent_run assistant", root.Name);
        Assert.Equal("Steward", root.Scope);
        Assert.Equal(response.RunId.ToString(), root.Attributes["steward.run.id"]);
        Assert.Equal(response.SessionId.ToString(), root.Attributes["steward.session.id"]);
        Assert.Equal("assistant", root.Attributes["steward.preset"]);
        Assert.Equal("Completed", root.Attributes["steward.run.status"]);
        Assert.NotNull(root.Attributes["steward.budget.decision"]);
        // (12 - 4) × $2 + 4 × $1 + 7 × $8 per million tokens.
        Assert.Equal(76e-6, Assert.IsType<double>(root.Attributes["steward.cost.usd"]), 12);
        Assert.Equal(12L, root.Attributes["gen_ai.usage.input_tokens"]);
        Assert.Equal(4L, root.Attributes["gen_ai.usage.cache_read.input_tokens"]);
        Assert.Equal(7L, root.Attributes["gen_ai.usage.output_tokens"]);
        Assert.Equal(2L, root.Attributes["gen_ai.usage.reasoning.output_tokens"]);
        Assert.Equal(["Initializing", "CheckingBudget", "Running", "Completed"], root.Events);

        ReceivedSpan Child(ReceivedSpan parent, string name) => Assert.Single(spans, s => s.ParentSpanId == parent.SpanId && s.Name.StartsWith(name, StringComparison.Ordinal));
        // The run's start and its outcome: one write each.
        Assert.Equal(2, spans.Count(s => s.ParentSpanId == root.SpanId && s.Name == "store_run"));
        var agent = Child(root, "invoke_agent assistant");
        // Every model call the agent makes is budgeted: its budget steps sit under the agent, beside the call's chat span.
        Child(agent, "check_budget");
        Child(agent, "settle_budget");
        Assert.Equal("invoke_agent", agent.Attributes["gen_ai.operation.name"]);
        Assert.Equal("assistant", agent.Attributes["gen_ai.agent.name"]);
        var chat = Assert.Single(spans, s => s.Name == "chat fake-model");
        Assert.True(chat.ParentSpanId == agent.SpanId || spans.Single(s => s.SpanId == chat.ParentSpanId).ParentSpanId == agent.SpanId,
            "the chat span sits under invoke_agent");
        Assert.Equal("chat", chat.Attributes["gen_ai.operation.name"]);
        Assert.Equal("fake-model", chat.Attributes["gen_ai.request.model"]);
        Assert.Equal(12L, chat.Attributes["gen_ai.usage.input_tokens"]);
        Assert.Equal(7L, chat.Attributes["gen_ai.usage.output_tokens"]);
        Assert.True(spans.All(s => s.EndNanos >= s.StartNanos && s.StartNanos >= root.StartNanos && s.EndNanos <= root.EndNanos));

        // Content is off by default, and no secret travels.
        Assert.DoesNotContain(spans, s => s.Attributes.ContainsKey("gen_ai.input.messages") || s.Attributes.ContainsKey("gen_ai.output.messages"));
        var bodies = _receiver.Bodies.Select(b => Encoding.UTF8.GetString(b.Body)).ToList();
        Assert.DoesNotContain(bodies, b => b.Contains(Question, StringComparison.Ordinal) || b.Contains("Hello from the fake model.", StringComparison.Ordinal));
        Assert.DoesNotContain(bodies, b => b.Contains(TestEngine.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ContentOptedIn_MessagesAreInChatSpan_SecretsStillAbsent()
    {
        await using var engine = await StartEngineAsync(s => s["Steward:Telemetry:CaptureMessageContent"] = "true");
        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = Question }, cancellationToken: TestContext.Current.CancellationToken);

        var spans = await ExportedAsync(engine, response, atLeast: 7);
        var chat = Assert.Single(spans, s => s.Name == "chat fake-model");
        Assert.Contains(Question, Assert.IsType<string>(chat.Attributes["gen_ai.input.messages"]), StringComparison.Ordinal);
        Assert.Contains("Hello from the fake model.", Assert.IsType<string>(chat.Attributes["gen_ai.output.messages"]), StringComparison.Ordinal);
        Assert.DoesNotContain(_receiver.Bodies, b => Encoding.UTF8.GetString(b.Body).Contains(TestEngine.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SamplingRatioZero_DropsSuccessfulRuns_KeepsFailedAndRefusedOnes()
    {
        await using var engine = await StartEngineAsync(s => s["Steward:Telemetry:SamplingRatio"] = "0");
        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "tiny.yaml"), TestEngine.Preset("tiny", "budget:\n  max_tokens_per_request: 5"), TestContext.Current.CancellationToken);
        var ok = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "fine" }, cancellationToken: TestContext.Current.CancellationToken);
        var refused = await engine.Runner.RunAsync(new RunRequest { Preset = "tiny", Query = "too big for the budget" }, cancellationToken: TestContext.Current.CancellationToken);
        _model.Reply = _ => new FakeReply { Error = (500, """{"error":{"message":"boom","type":"server_error"}}""") };
        var failed = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "fails" }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal((RunStatus.Completed, RunStatus.BudgetExceeded, RunStatus.Failed), (ok.Status, refused.Status, failed.Status));

        var failedSpans = await ExportedAsync(engine, failed, atLeast: 5);
        var refusedSpans = await ExportedAsync(engine, refused, atLeast: 3);
        var root = Assert.Single(failedSpans, s => s.ParentSpanId is null);
        Assert.Equal(2, root.StatusCode);
        Assert.Contains(failedSpans, s => s.Name.StartsWith("invoke_agent", StringComparison.Ordinal));
        Assert.True(Assert.Single(refusedSpans, s => s.ParentSpanId is null).Attributes["steward.budget.refused"] is true);
        Assert.Contains(refusedSpans, s => s.Name == "check_budget");
        Assert.All(failedSpans.Concat(refusedSpans), s => Assert.Equal(1u, s.Flags & 1u));

        // The successful run was sampled out; the two later traces arrived, so it had its chance to.
        Assert.DoesNotContain(_receiver.Spans, s => s.TraceId == ok.TraceId);
    }
}
