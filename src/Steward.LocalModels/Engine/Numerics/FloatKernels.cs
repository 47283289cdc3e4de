using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// F32, F16 and BF16 weights. One activation row follows ggml_vec_dot_f32/f16 (four 16-lane accumulators over
/// steps of 64, reduced pairwise, then the tail); several follow tinyBLAS (one 16-lane accumulator per output,
/// then _mm512_reduce_add_ps), which llama.cpp uses when the row length is a multiple of 16 and the row count of 4.
/// F16 weights meet activations rounded to fp16, as ggml converts them. BF16 sums like F32 and is close to, not
/// bit-identical with, llama.cpp's AVX-512 BF16 dot instruction.
/// </summary>
internal static unsafe class FloatKernels
{
    public static readonly MatKernel F32 = new F32Kernel();
    public static readonly MatKernel F16 = new F16Kernel();
    public static readonly MatKernel Bf16 = new Bf16Kernel();

    /// <summary>Whether llama.cpp would run this product through tinyBLAS.</summary>
    private static bool UsesTinyBlas(Matrix w, MatMulOp op) => op.Batched && w.Cols % 16 == 0 && w.Rows % 4 == 0;

    /// <summary>ggml_vec_dot_f32 (AVX-512 build), including the way GCC vectorised its tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float DotF32(float* w, float* x, int n)
    {
        var np = n & ~63;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (var i = 0; i < np; i += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 16), Vector512.Load(x + i + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 32), Vector512.Load(x + i + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 48), Vector512.Load(x + i + 48), s3);
        }

        var sum = GgmlFloat.Reduce16((s0 + s2) + (s1 + s3));

        // The scalar tail `sumf += x[i]*y[i]` was vectorised: products of 16 and then 8 elements are rounded and added
        // in order; the last (up to 7) are fused multiply-adds.
        var left = n - np;
        var rounded = (left & ~15) + ((left & 15) >= 8 ? 8 : 0);
        var i2 = np;
        for (; i2 < np + rounded; i2++)
        {
            sum += w[i2] * x[i2];
        }

        for (; i2 < n; i2++)
        {
            sum = MathF.FusedMultiplyAdd(w[i2], x[i2], sum);
        }

        return sum;
    }

    /// <summary>tinyBLAS's dot for one output: a single 16-lane FMA chain, then the 512-bit reduction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TinyF32(float* w, float* x, int n)
    {
        Vector512<float> acc = default;
        for (var i = 0; i < n; i += 16)
        {
            acc = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), acc);
        }

        return GgmlFloat.Reduce16(acc);
    }

    /// <summary>Four tinyBLAS dots sharing a weight row (independent chains, so the FMA latency overlaps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TinyF32x4(float* w, float* x, int n, int stride, float* y, int yStride)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var i = 0; i < n; i += 16)
        {
            var wv = Vector512.Load(w + i);
            a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), a0);
            a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + stride + i), a1);
            a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + (2 * stride) + i), a2);
            a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + (3 * stride) + i), a3);
        }

        y[0] = GgmlFloat.Reduce16(a0);
        y[yStride] = GgmlFloat.Reduce16(a1);
        y[2 * yStride] = GgmlFloat.Reduce16(a2);
        y[3 * yStride] = GgmlFloat.Reduce16(a3);
    }

    /// <summary>16 fp16 values widened to float (exact, subnormals included; weights are finite).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Half16(ushort* p)
    {
        Vector512<int> wide;
        if (Avx512F.IsSupported)
        {
            wide = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p));
        }
        else
        {
            var h = Vector256.Load((short*)p);
            wide = Vector512.Create(Vector256.WidenLower(h), Vector256.WidenUpper(h));
        }

        var bits = (wide << 13) & Vector512.Create(unchecked((int)0x8FFFE000));
        return bits.AsSingle() * Vector512.Create(5.192296858534828e+33f);
    }

    /// <summary>ggml_vec_dot_f16 (AVX-512 build without FP16 arithmetic): float lanes, sum widened to double, double tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float DotF16(ushort* w, float* x, int n)
    {
        var f16 = Fp16.Table;
        var np = n & ~63;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (var i = 0; i < np; i += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(Half16(w + i), Vector512.Load(x + i), s0);
            s1 = Vector512.FusedMultiplyAdd(Half16(w + i + 16), Vector512.Load(x + i + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(Half16(w + i + 32), Vector512.Load(x + i + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(Half16(w + i + 48), Vector512.Load(x + i + 48), s3);
        }

        double sum = GgmlFloat.Reduce16((s0 + s2) + (s1 + s3));
        for (var i = np; i < n; i++)
        {
            sum += f16[w[i]] * x[i];
        }

        return (float)sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float TinyF16(ushort* w, float* x, int n)
    {
        Vector512<float> acc = default;
        for (var i = 0; i < n; i += 16)
        {
            acc = Vector512.FusedMultiplyAdd(Half16(w + i), Vector512.Load(x + i), acc);
        }

        return GgmlFloat.Reduce16(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TinyF16x4(ushort* w, float* x, int n, int stride, float* y, int yStride)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var i = 0; i < n; i += 16)
        {
            var wv = Half16(w + i);
            a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), a0);
            a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + stride + i), a1);
            a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + (2 * stride) + i), a2);
            a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + (3 * stride) + i), a3);
        }

        y[0] = GgmlFloat.Reduce16(a0);
        y[yStride] = GgmlFloat.Reduce16(a1);
        y[2 * yStride] = GgmlFloat.Reduce16(a2);
        y[3 * yStride] = GgmlFloat.Reduce16(a3);
    }

    private sealed class F32Kernel : MatKernel
    {
        public override ActivationKind Kind => ActivationKind.F32;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            var tiny = UsesTinyBlas(w, op);
            for (var r = r0; r < r1; r++)
            {
                var wr = (float*)w.Row(r);
                var b = b0;
                if (tiny)
                {
                    for (; b + 4 <= b0 + count; b += 4)
                    {
                        TinyF32x4(wr, x.Source + ((long)b * n), n, n, y + ((long)b * yStride) + r, yStride);
                    }
                }

                for (; b < b0 + count; b++)
                {
                    var xr = x.Source + ((long)b * n);
                    y[((long)b * yStride) + r] = tiny ? TinyF32(wr, xr, n) : DotF32(wr, xr, n);
                }
            }
        }
    }

    private sealed class F16Kernel : MatKernel
    {
        public override ActivationKind Kind => ActivationKind.F16;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            var tiny = UsesTinyBlas(w, op);
            for (var r = r0; r < r1; r++)
            {
                var wr = (ushort*)w.Row(r);
                var b = b0;
                if (tiny)
                {
                    for (; b + 4 <= b0 + count; b += 4)
                    {
                        TinyF16x4(wr, x.Half + ((long)b * n), n, n, y + ((long)b * yStride) + r, yStride);
                    }
                }

                for (; b < b0 + count; b++)
                {
                    var xr = x.Half + ((long)b * n);
                    y[((long)b * yStride) + r] = tiny ? TinyF16(wr, xr, n) : DotF16(wr, xr, n);
                }
            }
        }
    }

    private sealed class Bf16Kernel : MatKernel
    {
        public override ActivationKind Kind => ActivationKind.BF16;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            var row = stackalloc float[n];
            for (var r = r0; r < r1; r++)
            {
                var wr = (ushort*)w.Row(r);
                for (var i = 0; i < n; i++)
                {
                    row[i] = Dequantizer.Bf16(wr[i]);
                }

                for (var b = b0; b < b0 + count; b++)
                {
                    y[((long)b * yStride) + r] = DotF32(row, x.Bf16 + ((long)b * n), n);
                }
            }
        }
    }
}
