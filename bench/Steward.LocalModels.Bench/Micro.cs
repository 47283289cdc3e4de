using System.Diagnostics;
using System.Globalization;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>Kernel throughput on one matrix of a file (micro TENSOR FILE [batch]): GB/s of weights and GMAC/s.</summary>
internal static unsafe class Micro
{
    /// <summary>
    /// Every matrix of the file once per pass: with <paramref name="prompt"/> false, <paramref name="batch"/> rows in gemv
    /// order (generation's weight streaming, or that many sequences decoding together); with it true, one prompt
    /// ubatch of <paramref name="batch"/> rows (prompt processing's products).
    /// </summary>
    public static void All(string path, int threads, int batch = 1, bool prompt = false)
    {
        using var file = GgufFile.Open(path, resident: true);
        var matrices = file.Tensors.Where(t => t.Dimensions.Length == 2 && t.Name != "token_embd.weight" || t.Name == "token_embd.weight" && file.FindTensor("output.weight") is null)
            .Select(t => new Matrix(file, t, simd: true)).ToList();
        var widest = matrices.Max(m => Math.Max(m.Cols, m.Rows));
        using var act = new Activations(batch * widest);
        var x = new float[batch * widest];
        var rng = new Random(1);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() - 0.5);
        }

        var y = new float[batch * widest];
        using var pool = new ComputePool(threads);
        var job = new MatMulJob();
        var bytes = matrices.Sum(m => m.Bytes);
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            var best = double.MaxValue;
            var bestCpu = double.MaxValue;
            // Per kernel (weight type and kernel class), the time of the fastest pass: which tensors dominate a token.
            var kinds = matrices.Select(Label).Distinct().ToList();
            var bestKind = new double[kinds.Count];
            var passKind = new double[kinds.Count];
            for (var pass = 0; pass < 12; pass++)
            {
                Array.Clear(passKind);
                var sw = Stopwatch.StartNew();
                var cpu = ThreadClock.Now();
                foreach (var m in matrices)
                {
                    // With one thread every product runs on this one, so its CPU time is the kernels' own, load or not.
                    var start = threads == 1 ? ThreadClock.Now() : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
                    act.SetSource(xp, batch, m.Cols);
                    job.Run(pool, act, 0, batch, prompt ? new MatMulOp(batch, 0) : MatMulOp.Gemv, m, yp);
                    passKind[kinds.IndexOf(Label(m))] += (threads == 1 ? ThreadClock.Now() : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency) - start;
                }

                cpu = ThreadClock.Now() - cpu;
                if (pass >= 2 && sw.Elapsed.TotalSeconds < best)
                {
                    best = sw.Elapsed.TotalSeconds;
                }

                if (pass >= 2 && (threads == 1 ? cpu : sw.Elapsed.TotalSeconds) < bestCpu)
                {
                    bestCpu = threads == 1 ? cpu : sw.Elapsed.TotalSeconds;
                    passKind.CopyTo(bestKind, 0);
                }
            }

            for (var k = 0; k < kinds.Count; k++)
            {
                var kb = matrices.Where(m => Label(m) == kinds[k]).Sum(m => m.Bytes);
                var macs = (double)matrices.Where(m => Label(m) == kinds[k]).Sum(m => (long)m.Rows * m.Cols) * batch;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kinds[k],-28} {kb / 1e6,8:F0} MB {bestKind[k] * 1e3,9:F2} ms {kb / bestKind[k] / 1e9,6:F2} GB/s {macs / bestKind[k] / 1e9,7:F2} GMAC/s"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"all {matrices.Count} matrices, {bytes / 1e6:F0} MB, {threads} thr, {batch} row(s) as {(prompt ? "a prompt" : "decoding")}: {best * 1e3:F2} ms per pass, {bytes / best / 1e9:F2} GB/s, {(double)matrices.Sum(m => (long)m.Rows * m.Cols) * batch / best / 1e9:F2} GMAC/s"));
            if (threads == 1)
            {
                // The kernel lines above are CPU time; this is the pass's, to set against the wall figure.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  by CPU time: {bestCpu * 1e3:F2} ms per pass, {bytes / bestCpu / 1e9:F2} GB/s, {(double)matrices.Sum(m => (long)m.Rows * m.Cols) * batch / bestCpu / 1e9:F2} GMAC/s"));
            }
        }
    }

    private static string Label(Matrix m) => $"{m.Type} {m.Kernel.GetType().Name}";

    public static void Run(string path, string tensor, int batch, int threads, bool decoding = false)
    {
        using var file = GgufFile.Open(path, resident: true);
        var m = new Matrix(file, file.FindTensor(tensor)!, simd: true);
        using var act = new Activations(batch * m.Cols);
        var x = new float[batch * m.Cols];
        var rng = new Random(1);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() - 0.5);
        }

        var y = new float[batch * m.Rows];
        using var pool = new ComputePool(threads);
        var job = new MatMulJob();
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            act.SetSource(xp, batch, m.Cols);
            var op = decoding ? MatMulOp.Gemv : new MatMulOp(batch, 0);
            for (var i = 0; i < 20; i++)
            {
                job.Run(pool, act, 0, batch, op, m, yp);
            }

            // The fastest single product: on a machine shared with other processes a round of several is rarely
            // left alone, one product (a millisecond or two) often is.
            var best = double.MaxValue;
            for (var round = 0; round < 200; round++)
            {
                var sw = Stopwatch.StartNew();
                job.Run(pool, act, 0, batch, op, m, yp);
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }

            var raw = new ReadOnlySpan<float>(m.Data, (int)(m.Bytes / 4));
            var rawBest = double.MaxValue;
            for (var round = 0; round < 5; round++)
            {
                var sw = Stopwatch.StartNew();
                _ = System.Numerics.Tensors.TensorPrimitives.Sum(raw);
                rawBest = Math.Min(rawBest, sw.Elapsed.TotalSeconds);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw read of the mapped tensor: {m.Bytes / rawBest / 1e9:F2} GB/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{tensor} {m.Type} {m.Cols}x{m.Rows} batch {batch}{(decoding ? " decoding" : "")}, {threads} thr: {best * 1e6:F0} µs, {m.Bytes / best / 1e9:F2} GB/s weights, {(double)m.Cols * m.Rows * batch / best / 1e9:F2} GMAC/s"));
        }
    }
}
