using Steward.Telemetry;

namespace Steward.Web.Traces;

/// <summary>Where one span's bar sits on the waterfall, as percentages of the trace's duration.</summary>
internal sealed record WaterfallBar(WaterfallSpan Span, double LeftPercent, double WidthPercent);

/// <summary>
/// Places spans on a common time axis. A span shorter than a pixel still gets a visible sliver, and a span that ends
/// after the trace's recorded end (clocks of different sources) is clipped rather than drawn off the edge.
/// </summary>
internal static class WaterfallLayout
{
    public const double MinWidthPercent = 0.4;

    public static IReadOnlyList<WaterfallBar> Layout(RunTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var total = Math.Max(trace.Duration.TotalMilliseconds, trace.Spans.Count == 0 ? 1 : trace.Spans.Max(s => (s.Offset + s.Span.Duration).TotalMilliseconds));
        if (total <= 0)
        {
            total = 1;
        }

        return trace.Spans.Select(s =>
        {
            // A span starting in the last sliver of the trace moves back by that much, so its visible sliver still fits
            // (the bounds of the width's clamp could otherwise cross and throw).
            var left = Math.Clamp(s.Offset.TotalMilliseconds / total * 100, 0, 100 - MinWidthPercent);
            var width = Math.Clamp(s.Span.Duration.TotalMilliseconds / total * 100, MinWidthPercent, 100 - left);
            return new WaterfallBar(s, left, width);
        }).ToArray();
    }
}
