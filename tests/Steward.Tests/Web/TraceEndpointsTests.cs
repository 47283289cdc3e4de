using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Agents;
using Steward.Telemetry;
using Steward.Tests.TestSupport;
using Steward.Web.Api;

namespace Steward.Tests.Web;

/// <summary>The waterfall query the web UI calls, against a real run.</summary>
public sealed class TraceEndpointsTests : EngineTest
{
    [Fact]
    public async Task GetRunTrace_AfterRun_SpansInTreeOrderWithOffsets()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Waterfall" }, cancellationToken: ct);

        var result = await TraceEndpoints.GetRunTraceAsync(response.RunId, Engine.Get<StoredTraces>(), ct);

        var trace = Assert.IsType<Ok<RunTrace>>(result.Result).Value!;
        Assert.Equal(response.TraceId, trace.TraceId);
        Assert.Equal("agent_run assistant", trace.Spans[0].Span.Name);
        Assert.Equal(TimeSpan.Zero, trace.Spans[0].Offset);
        Assert.All(trace.Spans.Skip(1), s => Assert.True(s.Depth >= 1 && s.Offset >= TimeSpan.Zero && s.Offset + s.Span.Duration <= trace.Duration));
    }

    [Fact]
    public async Task GetRunTrace_UnknownRun_ProblemWith404()
    {
        var result = await TraceEndpoints.GetRunTraceAsync(Guid.NewGuid(), Engine.Get<StoredTraces>(), TestContext.Current.CancellationToken);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(404, problem.StatusCode);
        Assert.Contains("has no trace", problem.ProblemDetails.Detail, StringComparison.Ordinal);
    }
}
