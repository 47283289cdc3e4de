namespace Steward.Analytics;

/// <summary>
/// The latency histogram's buckets: bucket 0 holds durations under 1 ms; bucket k ≥ 1 holds [2^((k-1)/16), 2^(k/16)) ms,
/// up to bucket <see cref="Last"/>, which holds everything longer. Sixteen per doubling, so a percentile read as its
/// bucket's geometric middle is within 2.2 % of the exact duration (as Prometheus's native histograms and DDSketch do).
/// The database looks a duration's bucket up in <c>latency_buckets</c>, which holds these lower bounds.
/// </summary>
internal static class LatencyBuckets
{
    /// <summary>Buckets per doubling of the duration.</summary>
    public const int PerDoubling = 16;

    /// <summary>The last bucket: 2^27 ms (37 hours) and longer.</summary>
    public const int Last = 27 * PerDoubling + 1;

    /// <summary>The lower bound of bucket <paramref name="bucket"/> in ms (bucket 0 starts below every duration).</summary>
    public static double LowerMs(int bucket) => bucket == 0 ? double.MinValue : Math.Pow(2, (bucket - 1) / (double)PerDoubling);

    /// <summary>The bucket <paramref name="durationMs"/> falls in, by the same bounds the database uses.</summary>
    public static int Of(double durationMs)
    {
        if (durationMs < 1)
        {
            return 0;
        }

        var bucket = Math.Min(Last, (int)Math.Floor(Math.Log2(durationMs) * PerDoubling) + 1);
        // Floating-point logarithms can land one bucket off at a bound; the stored bounds decide.
        while (bucket > 1 && durationMs < LowerMs(bucket))
        {
            bucket--;
        }

        while (bucket < Last && durationMs >= LowerMs(bucket + 1))
        {
            bucket++;
        }

        return bucket;
    }

    /// <summary>What a bucket reports: its geometric middle (0 for bucket 0; the lower bound for the open last one).</summary>
    public static double Value(int bucket) => bucket switch
    {
        0 => 0,
        Last => LowerMs(Last),
        _ => Math.Round(Math.Pow(2, (bucket - 0.5) / PerDoubling), 1),
    };
}
