using Steward.Telemetry;
using Steward.Web.Traces;

namespace Steward.Web.Tests.Components;

public sealed class WaterfallLayoutTests
{
    private static WaterfallSpan Span(string name, int depth, double offsetMs, double durationMs) => new(
        new TraceSpan("t", name, null, name, "Steward", SpanKind.Internal, DateTimeOffset.UnixEpoch.AddMilliseconds(offsetMs), TimeSpan.FromMilliseconds(durationMs),
            SpanStatus.Ok, null, [], []),
        depth, TimeSpan.FromMilliseconds(offsetMs));

    [Fact]
    public void Layout_PlacesSpansOnTheTraceTimeLine()
    {
        var trace = new RunTrace(Guid.NewGuid(), "t", DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(200), [Span("run", 0, 0, 200), Span("chat", 1, 50, 100)]);

        var bars = WaterfallLayout.Layout(trace);

        Assert.Equal((0, 100), (bars[0].LeftPercent, bars[0].WidthPercent));
        Assert.Equal((25, 50), (bars[1].LeftPercent, bars[1].WidthPercent));
    }

    [Fact]
    public void Layout_InstantSpanGetsAVisibleSliverAndOverrunIsClipped()
    {
        var trace = new RunTrace(Guid.NewGuid(), "t", DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(1000), [Span("tiny", 0, 500, 0), Span("late", 0, 990, 50)]);

        var bars = WaterfallLayout.Layout(trace);

        Assert.Equal(WaterfallLayout.MinWidthPercent, bars[0].WidthPercent);
        Assert.True(bars[1].LeftPercent + bars[1].WidthPercent <= 100.0001);
    }
}
