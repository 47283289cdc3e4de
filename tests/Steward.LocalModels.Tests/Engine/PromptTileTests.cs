using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>
/// The prompt tiles (several weight rows by four activation rows, 512 bits wide where the CPU has AVX-512) against the
/// one-sequence generation kernels, for the types whose ggml product is one sequence either way: every output bit for bit. Rows and
/// activation counts leave remainders, so the tiles' edges run too.
/// </summary>
public sealed unsafe class PromptTileTests
{
    [Theory]
    [InlineData((uint)GgmlType.Q6_K, 2048, 6, 9)]
    [InlineData((uint)GgmlType.Q6_K, 512, 3, 4)]
    [InlineData((uint)GgmlType.Q8_0, 2048, 12, 9)]
    [InlineData((uint)GgmlType.Q8_0, 896, 6, 8)]
    [InlineData((uint)GgmlType.Q5_0, 2048, 12, 9)]
    [InlineData((uint)GgmlType.Q4_0, 2048, 10, 7)]
    public void Rows_PromptTileAndGenerationKernel_AgreeBitForBit(uint typeNumber, int n, int rows, int batch)
    {
        var type = (GgmlType)typeNumber;
        var rng = new Random(3);
        var w = new float[rows * n];
        var x = new float[batch * n];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5);
        }

        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() - 0.5);
        }

        var path = Path.Combine(Path.GetTempPath(), $"tile-{Guid.NewGuid():N}.gguf");
        try
        {
            new GgufWriter().AddTensor("w", type, [(ulong)n, (ulong)rows], Quantizer.Quantize(type, w, n)).Write(path);
            using var file = GgufFile.Open(path);

            // Not repackable: Q4_0 keeps its plain layout, whose prompt and generation kernels are the ones compared.
            var m = new Matrix(file, file.FindTensor("w")!, simd: true, repackable: false);
            using var act = new Activations(batch * n);
            var prompt = new float[batch * rows];
            var generation = new float[batch * rows];
            fixed (float* xp = x)
            fixed (float* pp = prompt)
            fixed (float* gp = generation)
            {
                act.SetSource(xp, batch, n);
                act.Prepare(m.Kind);
                m.Kernel.Rows(m, act, 0, batch, 0, rows, pp, rows, new MatMulOp(batch, 0));
                for (var b = 0; b < batch; b++)
                {
                    // One sequence at a time: the single-row generation kernels (several sequences decoding together
                    // take the tile too).
                    m.Kernel.Rows(m, act, b, 1, 0, rows, gp, rows, MatMulOp.Gemv);
                }
            }

            Assert.Equal(generation, prompt);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    public void Rows_RepackedQ4KGemmSplitAtAnyRow_MatchesPortable(int split)
    {
        // A thread's chunk of rows can start and end anywhere, so the two-row and one-row edges of the four-row tile run
        // too: both parts together give the portable kernel's bits.
        const int n = 512, rows = 8, batch = 8;
        var rng = new Random(5);
        var w = new float[rows * n];
        var x = new float[batch * n];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5);
        }

        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() - 0.5);
        }

        var path = Path.Combine(Path.GetTempPath(), $"tile-{Guid.NewGuid():N}.gguf");
        try
        {
            new GgufWriter().AddTensor("w", GgmlType.Q4_K, [(ulong)n, (ulong)rows], Quantizer.Quantize(GgmlType.Q4_K, w, n)).Write(path);
            using var file = GgufFile.Open(path);
            var simd = new Matrix(file, file.FindTensor("w")!, simd: true);
            var portable = new Matrix(file, file.FindTensor("w")!, simd: false);
            using var act = new Activations(batch * n);
            var split2 = new float[batch * rows];
            var whole = new float[batch * rows];
            var op = new MatMulOp(batch, 0);
            fixed (float* xp = x)
            fixed (float* sp = split2)
            fixed (float* wp = whole)
            {
                act.SetSource(xp, batch, n);
                act.Prepare(simd.Kind);
                simd.Kernel.Rows(simd, act, 0, batch, 0, split, sp, rows, op);
                simd.Kernel.Rows(simd, act, 0, batch, split, rows, sp, rows, op);
                portable.Kernel.Rows(portable, act, 0, batch, 0, rows, wp, rows, op);
            }

            Assert.Equal(whole, split2);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
