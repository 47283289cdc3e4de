namespace Steward.Bench;

/// <summary>The statistics the benchmarks report their figures with.</summary>
internal static class BenchStats
{
    /// <summary>The middle value (the upper of the two middle ones for an even count): a round's outlier moves it little.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var a = values.Order().ToArray();
        return a[a.Length / 2];
    }

    /// <summary>The nearest-rank <paramref name="p"/> quantile (0-1) of <paramref name="sorted"/>, sorted ascending.</summary>
    public static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
