using System.Buffers.Binary;
using System.Diagnostics;

namespace Steward.Telemetry;

/// <summary>
/// Trace ids that begin with the time they were made (milliseconds since 1970, 6 bytes) and end with 10 random bytes, for
/// the traces this process starts (a request that arrives with a <c>traceparent</c> keeps its caller's id). The trace
/// store indexes spans by trace id: with wholly random ids every batch of spans landed on as many different pages of that
/// index as it had spans, so each commit wrote (and each checkpoint copied) most of the index again as it grew. A 500-span
/// batch into a store of 300,000 spans wrote 2.7 MB to the log with random ids and 0.3 MB with these, in 41 ms against
/// 6.5 ms. The last 7 bytes stay random, which is where W3C Trace Context (level 2) and OpenTelemetry's consistent
/// sampling look for a trace's randomness; <see cref="StewardSampler"/> samples on them.
/// </summary>
internal static class TimeOrderedTraceIds
{
    /// <summary>
    /// Makes the ids of new root activities, in this whole process, time-ordered. On the system clock, not a host's
    /// <see cref="TimeProvider"/>: the generator is one for the process, and the order it gives is the store's real one.
    /// </summary>
    public static void Install() => Activity.TraceIdGenerator = static () => Create(TimeProvider.System.GetUtcNow());

    /// <summary>A trace id made at <paramref name="now"/>.</summary>
    public static ActivityTraceId Create(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        var milliseconds = (ulong)Math.Max(0, now.ToUnixTimeMilliseconds());
        // 48 bits of milliseconds last until the year 10889; the id is big-endian so its hex sorts by time.
        BinaryPrimitives.WriteUInt64BigEndian(bytes[..8], milliseconds << 16 | BinaryPrimitives.ReadUInt16BigEndian(bytes[6..8]));
        return ActivityTraceId.CreateFromBytes(bytes);
    }

    /// <summary>The trace's random part (its last 7 bytes) as a fraction in [0, 1).</summary>
    public static double RandomFraction(ActivityTraceId traceId)
    {
        Span<byte> bytes = stackalloc byte[16];
        traceId.CopyTo(bytes);
        var random = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]) & 0x00FF_FFFF_FFFF_FFFF;
        return random / (double)(1UL << 56);
    }
}
