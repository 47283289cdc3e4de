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
}
