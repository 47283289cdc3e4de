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

    [Fact]
    public void Layout_SpanStartingInTheTracesLastSliver_StaysVisibleInsteadOfThrowing()
    {
        // A store span that starts 0.1 % before the run's end (the trace that crashed the Traces page).
        var trace = new RunTrace(Guid.NewGuid(), "t", DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(1000),
            [Span("run", 0, 0, 1000), Span("store_run", 1, 998.4, 0.2), Span("after", 1, 1000, 0)]);

        var bars = WaterfallLayout.Layout(trace);

        Assert.All(bars, b => Assert.True(b.WidthPercent >= WaterfallLayout.MinWidthPercent && b.LeftPercent + b.WidthPercent <= 100.0001, $"{b.LeftPercent} + {b.WidthPercent}"));
        Assert.Equal(100 - WaterfallLayout.MinWidthPercent, bars[2].LeftPercent, 6);
    }
}
