using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// One generation-sized matrix product (a 576×576 Q8_0 weight times one activation row: about 20 µs of work)
/// dispatched through the engine's spinning <see cref="ComputePool"/> and through Parallel.For, to show what the
/// hand-off costs. A token needs over 200 such dispatches.
/// </summary>
internal static unsafe class DispatchBenchmark
{
    public static void Run(string modelPath, int threads)
    {
        using var file = GgufFile.Open(modelPath);
        var matrix = new Matrix(file, file.FindTensor("blk.0.attn_q.weight")!, simd: true);
        var y = (float*)NativeMemory.Alloc((nuint)(matrix.Rows * sizeof(float)));
        var x = (float*)NativeMemory.Alloc((nuint)(matrix.Cols * sizeof(float)));
        for (var i = 0; i < matrix.Cols; i++)
        {
            x[i] = (float)Math.Sin(i);
        }

        using var act = new Activations(matrix.Cols);
        using var pool = new ComputePool(threads);
        var parallelFor = new ParallelForRunner(threads);
        var job = new MatMulJob();
        try
        {
            act.SetSource(x, 1, matrix.Cols);
            var single = Measure(() => job.Run(new InlineRunner(), act, 0, 1, MatMulOp.Gemv, matrix, y));
            var spin = Measure(() => job.Run(pool, act, 0, 1, MatMulOp.Gemv, matrix, y));
            var pfor = Measure(() => job.Run(parallelFor, act, 0, 1, MatMulOp.Gemv, matrix, y));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dispatch: 576x576 Q8_0 mat-vec, {threads} threads: ComputePool {spin:F1} µs, Parallel.For {pfor:F1} µs, one thread inline {single:F1} µs"));
        }
        finally
        {
            NativeMemory.Free(x);
            NativeMemory.Free(y);
        }
    }

    private static double Measure(Action action)
    {
        for (var i = 0; i < 200; i++)
        {
            action();
        }

        var best = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < 1000; i++)
            {
                action();
            }

            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / 1000);
        }

        return best;
    }

    private sealed class InlineRunner : IJobRunner
    {
        public int ThreadCount => 1;

        public void Run(IParallelJob job) => job.Execute(0, 1);
    }

    private sealed class ParallelForRunner(int threads) : IJobRunner
    {
        private readonly ParallelOptions _options = new() { MaxDegreeOfParallelism = threads };

        public int ThreadCount => threads;

        public void Run(IParallelJob job) => Parallel.For(0, threads, _options, i => job.Execute(i, threads));
    }
}
