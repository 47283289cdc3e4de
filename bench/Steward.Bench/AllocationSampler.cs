using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Steward.Bench;

/// <summary>
/// Samples what the process allocates, by type: the runtime reports the type of the object that crosses each ~100 KB of
/// allocation (GCAllocationTick), so the bytes per type are a sample proportional to what each type costs the GC. Used by
/// the soak mode to show what one setting allocates per run that the other does not.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var type = eventData.Payload?[names.IndexOf("TypeName")] as string ?? "?";
        var amount = names.IndexOf("AllocationAmount64") is >= 0 and var at ? Convert.ToInt64(eventData.Payload![at], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, total) => total + amount);
    }

    /// <summary>Forgets what was sampled so far (the warm-up's allocations).</summary>
    public void Clear() => _bytes.Clear();

    /// <summary>The <paramref name="count"/> types that allocated most, with their sampled bytes.</summary>
    public IReadOnlyList<(string Type, long Bytes)> Top(int count) =>
        [.. _bytes.OrderByDescending(p => p.Value).Take(count).Select(p => (p.Key, p.Value))];
}
