using System.Diagnostics;
using System.Numerics.Tensors;

namespace Steward.LocalModels.Bench;

/// <summary>
/// Memory read bandwidth: summing a buffer far larger than the caches with 1 and 2 threads, best of several passes.
/// Generation reads every weight once per token, so bytes per token ÷ this is its ceiling in tokens/s.
/// </summary>
internal static class Bandwidth
{
    public static double Measure(int threads)
    {
        const int floats = 128 << 20; // 512 MiB
        var data = new float[floats];
        Array.Fill(data, 1f);
        var best = 0.0;
        var part = floats / threads;
        for (var pass = 0; pass < 5; pass++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                _ = TensorPrimitives.Sum(data.AsSpan(t * part, part)));
            best = Math.Max(best, (double)floats * sizeof(float) / sw.Elapsed.TotalSeconds);
        }

        return best;
    }
}
