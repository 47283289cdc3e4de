using Steward.Agents;
using Steward.Sessions;
using Steward.Telemetry;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

public sealed class TraceCorrelationTests : EngineTest
{
    [Fact]
    public async Task Run_TraceIdOnResponseStoredRunSessionExportAndStoredSpans_AllTheSame()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Correlate" }, cancellationToken: ct);
        Assert.Matches("^[0-9a-f]{32}$", response.TraceId);

        var export = await Engine.Get<SessionExporter>().ExportAsync(response.SessionId!.Value, ct);
        Assert.Equal(response.TraceId, Assert.Single(export.Runs).TraceId);

        var store = Engine.Get<TraceStore>();
        await store.FlushAsync(ct);
        var trace = await store.GetRunTraceAsync(response.RunId, ct);
        Assert.All(trace.Spans, s => Assert.Equal(response.TraceId, s.Span.TraceId));
        Assert.Equal(response.SessionId.ToString(), trace.Spans[0].Span["gen_ai.conversation.id"]);
    }
}
