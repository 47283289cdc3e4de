using System.Diagnostics;
using OpenTelemetry;

namespace Steward.Telemetry;

/// <summary>
/// Sits in front of the exporters. Sampled spans pass straight through; spans of a trace outside the sampling
/// ratio are held until the trace's local root ends, then exported anyway if the run failed (error status anywhere
/// in the trace) or was refused by a budget, and dropped otherwise. At most <see cref="MaxHeldSpans"/> spans are
/// held at once; beyond that unsampled spans are dropped at once, as the ratio asked.
/// </summary>
internal sealed class UnsampledTraceHoldProcessor(BaseProcessor<Activity> exporters) : BaseProcessor<Activity>
{
    internal const int MaxHeldSpans = 10_000;

    private readonly Dictionary<ActivityTraceId, List<Activity>> _held = [];
    private readonly Lock _gate = new();
    private int _heldCount;

    public override void OnEnd(Activity data)
    {
        if (data.Recorded)
        {
            exporters.OnEnd(data);
            return;
        }

        List<Activity>? trace;
        lock (_gate)
        {
            _held.TryGetValue(data.TraceId, out trace);
            if (data.Parent is not null)
            {
                if (_heldCount < MaxHeldSpans)
                {
                    if (trace is null)
                    {
                        _held[data.TraceId] = trace = [];
                    }

                    trace.Add(data);
                    _heldCount++;
                }

                return;
            }

            if (trace is not null)
            {
                _held.Remove(data.TraceId);
                _heldCount -= trace.Count;
            }
        }

        if (!MustKeep(data) && (trace is null || !trace.Any(MustKeep)))
        {
            return;
        }

        foreach (var span in (trace ?? []).Append(data))
        {
            span.ActivityTraceFlags |= ActivityTraceFlags.Recorded;
            exporters.OnEnd(span);
        }
    }

    private static bool MustKeep(Activity span) =>
        span.Status == ActivityStatusCode.Error || span.GetTagItem(StewardTelemetry.BudgetRefusedAttribute) is true;

    protected override bool OnForceFlush(int timeoutMilliseconds) => exporters.ForceFlush(timeoutMilliseconds);

    protected override bool OnShutdown(int timeoutMilliseconds) => exporters.Shutdown(timeoutMilliseconds);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            exporters.Dispose();
        }

        base.Dispose(disposing);
    }
}
