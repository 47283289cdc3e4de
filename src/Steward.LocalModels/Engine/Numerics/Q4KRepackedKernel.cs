using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Q4_K matrices as llama.cpp's CPU backend runs them once repacked (q4_K_8x8, every Q4_K weight whose row count is a
/// multiple of 8): per row and activation, integers are summed whole and scaled in two float accumulators (scales,
/// minimums) subtracted at the end. Its gemm (activation rows in groups of four) accumulates every 64 elements, its
/// gemv (the remaining rows) every 256; <see cref="MatMulOp.InGemmGroup"/> tells which a row belongs to.
/// </summary>
internal sealed unsafe class Q4KRepackedKernel(bool simd) : MatKernel
{
    private const int BlockBytes = 144;

    public static readonly MatKernel Simd = new Q4KRepackedKernel(simd: true);
    public static readonly MatKernel Portable = new Q4KRepackedKernel(simd: false);

    public override ActivationKind Kind => ActivationKind.Q8_K;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
    {
        var n = w.Cols;
        if (!simd || !KQuantKernels.Supported)
        {
            for (var r = r0; r < r1; r++)
            {
                for (var b = b0; b < b0 + count; b++)
                {
                    y[((long)b * yStride) + r] = Reference(w.Row(r), x, b, n, op.InGemmGroup(b));
                }
            }

            return;
        }

        var scratch = stackalloc float[4];
        var end = b0 + count;
        var grouped = b0;
        while (grouped + 4 <= end && op.InGemmGroup(grouped + 3))
        {
            grouped += 4;
        }

        if (grouped > b0)
        {
            // Activation rows in ggml's gemm groups: each super-block unpacked once for four of them.
            for (var r = r0; r < r1; r++)
            {
                for (var b = b0; b < grouped; b += 4)
                {
                    OneRowFourActs(w.Row(r), x, b, n, y + ((long)b * yStride) + r, yStride);
                }
            }
        }

        // The rest one activation row at a time, each group of four weight rows meeting all of them while in L1
        // (several sequences decoding together).
        var r4 = r0;
        for (; r4 + 4 <= r1; r4 += 4)
        {
            for (var b = grouped; b < end; b++)
            {
                var gemm = op.InGemmGroup(b);
                if (gemm)
                {
                    FourRows(w, r4, x, b, n, gemm, scratch);
                }
                else
                {
                    FourRowsGemv(w, r4, x, b, n, scratch);
                }

                for (var k = 0; k < 4; k++)
                {
                    y[((long)b * yStride) + r4 + k] = scratch[k];
                }
            }
        }

        for (; r4 < r1; r4++)
        {
            for (var b = grouped; b < end; b++)
            {
                y[((long)b * yStride) + r4] = Reference(w.Row(r4), x, b, n, op.InGemmGroup(b));
            }
        }
    }

    /// <summary>One weight row with four activation rows of a gemm group (accumulated every 64 elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRowFourActs(byte* wr, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q0 = x.QK + ((long)b * n);
        var bs0 = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        var m4 = Vector256.Create((byte)0xF);
        var utmp = stackalloc uint[4];
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (var i = 0; i < nb; i++, wr += BlockBytes, q0 += 256, bs0 += 16)
        {
            Unpack(wr + 4, utmp);
            var scales = (byte*)utmp;
            var mins = (byte*)(utmp + 2);
            var dw = f16[*(ushort*)wr];
            var dminw = f16[*(ushort*)(wr + 2)];
            var d = Vector128.Create(dk[i], dk[i + nb], dk[i + (2 * nb)], dk[i + (3 * nb)]);
            var sd = d * dw;
            var smin = d * dminw;
            for (var j = 0; j < 4; j++)
            {
                var raw = Avx.LoadVector256(wr + 16 + (32 * j));
                var lo = raw & m4;
                var hi = Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & m4;
                var slo = Vector256.Create((short)scales[2 * j]);
                var shi = Vector256.Create((short)scales[(2 * j) + 1]);
                int mlo = mins[2 * j], mhi = mins[(2 * j) + 1];
                var o = 64 * j;
                var isb0 = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(q0 + o)), slo) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(q0 + o + 32)), shi));
                var isb1 = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(q0 + n + o)), slo) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(q0 + n + o + 32)), shi));
                var isb2 = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(q0 + (2 * n) + o)), slo) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(q0 + (2 * n) + o + 32)), shi));
                var isb3 = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(q0 + (3 * n) + o)), slo) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(q0 + (3 * n) + o + 32)), shi));
                a0 = MathF.FusedMultiplyAdd(isb0, sd.GetElement(0), a0);
                a1 = MathF.FusedMultiplyAdd(isb1, sd.GetElement(1), a1);
                a2 = MathF.FusedMultiplyAdd(isb2, sd.GetElement(2), a2);
                a3 = MathF.FusedMultiplyAdd(isb3, sd.GetElement(3), a3);
                c0 = MathF.FusedMultiplyAdd((mlo * (bs0[4 * j] + bs0[(4 * j) + 1])) + (mhi * (bs0[(4 * j) + 2] + bs0[(4 * j) + 3])), smin.GetElement(0), c0);
                c1 = MathF.FusedMultiplyAdd((mlo * (bs0[bss + (4 * j)] + bs0[bss + (4 * j) + 1])) + (mhi * (bs0[bss + (4 * j) + 2] + bs0[bss + (4 * j) + 3])), smin.GetElement(1), c1);
                c2 = MathF.FusedMultiplyAdd((mlo * (bs0[(2 * bss) + (4 * j)] + bs0[(2 * bss) + (4 * j) + 1])) + (mhi * (bs0[(2 * bss) + (4 * j) + 2] + bs0[(2 * bss) + (4 * j) + 3])), smin.GetElement(2), c2);
                c3 = MathF.FusedMultiplyAdd((mlo * (bs0[(3 * bss) + (4 * j)] + bs0[(3 * bss) + (4 * j) + 1])) + (mhi * (bs0[(3 * bss) + (4 * j) + 2] + bs0[(3 * bss) + (4 * j) + 3])), smin.GetElement(3), c3);
            }
        }

        y[0] = a0 - c0;
        y[yStride] = a1 - c1;
        y[2 * yStride] = a2 - c2;
        y[3 * yStride] = a3 - c3;
    }

    /// <summary>Four weight rows with one activation row; the activation's quants are loaded once per super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRows(Matrix w, int r, Activations x, int b, int n, bool gemm, float* result)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        var s32 = stackalloc int[8];
        var u0 = stackalloc uint[4];
        var u1 = stackalloc uint[4];
        var u2 = stackalloc uint[4];
        var u3 = stackalloc uint[4];
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (var i = 0; i < nb; i++, q += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchBlock(w0, BlockBytes);
            Q8Kernels.PrefetchBlock(w1, BlockBytes);
            Q8Kernels.PrefetchBlock(w2, BlockBytes);
            Q8Kernels.PrefetchBlock(w3, BlockBytes);
            for (var j = 0; j < 8; j++)
            {
                s32[j] = bsums[2 * j] + bsums[(2 * j) + 1];
            }

            Unpack(w0 + 4, u0);
            Unpack(w1 + 4, u1);
            Unpack(w2 + 4, u2);
            Unpack(w3 + 4, u3);
            Vector256<int> t0 = default, t1 = default, t2 = default, t3 = default;
            for (var j = 0; j < 4; j++)
            {
                var ylo = Avx.LoadVector256(q + (64 * j));
                var yhi = Avx.LoadVector256(q + (64 * j) + 32);
                var p0 = Pair(w0, j, (byte*)u0, ylo, yhi);
                var p1 = Pair(w1, j, (byte*)u1, ylo, yhi);
                var p2 = Pair(w2, j, (byte*)u2, ylo, yhi);
                var p3 = Pair(w3, j, (byte*)u3, ylo, yhi);
                if (gemm)
                {
                    float d = dk[i];
                    a0 = MathF.FusedMultiplyAdd(Vector256.Sum(p0), f16[*(ushort*)w0] * d, a0);
                    a1 = MathF.FusedMultiplyAdd(Vector256.Sum(p1), f16[*(ushort*)w1] * d, a1);
                    a2 = MathF.FusedMultiplyAdd(Vector256.Sum(p2), f16[*(ushort*)w2] * d, a2);
                    a3 = MathF.FusedMultiplyAdd(Vector256.Sum(p3), f16[*(ushort*)w3] * d, a3);
                    c0 = MathF.FusedMultiplyAdd(MinPair((byte*)(u0 + 2), s32, j), f16[*(ushort*)(w0 + 2)] * d, c0);
                    c1 = MathF.FusedMultiplyAdd(MinPair((byte*)(u1 + 2), s32, j), f16[*(ushort*)(w1 + 2)] * d, c1);
                    c2 = MathF.FusedMultiplyAdd(MinPair((byte*)(u2 + 2), s32, j), f16[*(ushort*)(w2 + 2)] * d, c2);
                    c3 = MathF.FusedMultiplyAdd(MinPair((byte*)(u3 + 2), s32, j), f16[*(ushort*)(w3 + 2)] * d, c3);
                }
                else
                {
                    t0 += p0;
                    t1 += p1;
                    t2 += p2;
                    t3 += p3;
                }
            }

            if (!gemm)
            {
                float d = dk[i];
                a0 = MathF.FusedMultiplyAdd(Vector256.Sum(t0), f16[*(ushort*)w0] * d, a0);
                a1 = MathF.FusedMultiplyAdd(Vector256.Sum(t1), f16[*(ushort*)w1] * d, a1);
                a2 = MathF.FusedMultiplyAdd(Vector256.Sum(t2), f16[*(ushort*)w2] * d, a2);
                a3 = MathF.FusedMultiplyAdd(Vector256.Sum(t3), f16[*(ushort*)w3] * d, a3);
                c0 = MathF.FusedMultiplyAdd(Mins((byte*)(u0 + 2), s32), f16[*(ushort*)(w0 + 2)] * d, c0);
                c1 = MathF.FusedMultiplyAdd(Mins((byte*)(u1 + 2), s32), f16[*(ushort*)(w1 + 2)] * d, c1);
                c2 = MathF.FusedMultiplyAdd(Mins((byte*)(u2 + 2), s32), f16[*(ushort*)(w2 + 2)] * d, c2);
                c3 = MathF.FusedMultiplyAdd(Mins((byte*)(u3 + 2), s32), f16[*(ushort*)(w3 + 2)] * d, c3);
            }
        }

        result[0] = a0 - c0;
        result[1] = a1 - c1;
        result[2] = a2 - c2;
        result[3] = a3 - c3;
    }

    /// <summary>
    /// Four weight rows with one activation row in gemv order (generation): each super-block's integers summed whole.
    /// Straight-line code, no branches in the loop: this is the kernel generation streams every Q4_K weight through.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsGemv(Matrix w, int r, Activations x, int b, int n, float* result)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        var s32 = stackalloc int[8];
        var u = stackalloc uint[16];
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (var i = 0; i < nb; i++, q += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchBlock(w0, BlockBytes);
            Q8Kernels.PrefetchBlock(w1, BlockBytes);
            Q8Kernels.PrefetchBlock(w2, BlockBytes);
            Q8Kernels.PrefetchBlock(w3, BlockBytes);
            for (var j = 0; j < 8; j++)
            {
                s32[j] = bsums[2 * j] + bsums[(2 * j) + 1];
            }

            Unpack(w0 + 4, u);
            Unpack(w1 + 4, u + 4);
            Unpack(w2 + 4, u + 8);
            Unpack(w3 + 4, u + 12);
            var y0 = Avx.LoadVector256(q);
            var y1 = Avx.LoadVector256(q + 32);
            var y2 = Avx.LoadVector256(q + 64);
            var y3 = Avx.LoadVector256(q + 96);
            var y4 = Avx.LoadVector256(q + 128);
            var y5 = Avx.LoadVector256(q + 160);
            var y6 = Avx.LoadVector256(q + 192);
            var y7 = Avx.LoadVector256(q + 224);
            var t0 = SuperBlock(w0, (byte*)u, y0, y1, y2, y3, y4, y5, y6, y7);
            var t1 = SuperBlock(w1, (byte*)(u + 4), y0, y1, y2, y3, y4, y5, y6, y7);
            var t2 = SuperBlock(w2, (byte*)(u + 8), y0, y1, y2, y3, y4, y5, y6, y7);
            var t3 = SuperBlock(w3, (byte*)(u + 12), y0, y1, y2, y3, y4, y5, y6, y7);
            var d = dk[i];
            a0 = MathF.FusedMultiplyAdd(t0, f16[*(ushort*)w0] * d, a0);
            a1 = MathF.FusedMultiplyAdd(t1, f16[*(ushort*)w1] * d, a1);
            a2 = MathF.FusedMultiplyAdd(t2, f16[*(ushort*)w2] * d, a2);
            a3 = MathF.FusedMultiplyAdd(t3, f16[*(ushort*)w3] * d, a3);
            c0 = MathF.FusedMultiplyAdd(Mins((byte*)(u + 2), s32), f16[*(ushort*)(w0 + 2)] * d, c0);
            c1 = MathF.FusedMultiplyAdd(Mins((byte*)(u + 6), s32), f16[*(ushort*)(w1 + 2)] * d, c1);
            c2 = MathF.FusedMultiplyAdd(Mins((byte*)(u + 10), s32), f16[*(ushort*)(w2 + 2)] * d, c2);
            c3 = MathF.FusedMultiplyAdd(Mins((byte*)(u + 14), s32), f16[*(ushort*)(w3 + 2)] * d, c3);
        }

        result[0] = a0 - c0;
        result[1] = a1 - c1;
        result[2] = a2 - c2;
        result[3] = a3 - c3;
    }

    /// <summary>A whole super-block's scaled products, summed to one integer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SuperBlock(byte* blk, byte* scales, Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3, Vector256<sbyte> y4, Vector256<sbyte> y5, Vector256<sbyte> y6, Vector256<sbyte> y7)
    {
        var sum = Pair(blk, 0, scales, y0, y1) + Pair(blk, 1, scales, y2, y3);
        sum += Pair(blk, 2, scales, y4, y5) + Pair(blk, 3, scales, y6, y7);
        return Vector256.Sum(sum);
    }

    /// <summary>Sub-blocks 2j and 2j+1 (64 elements) of a super-block: scaled products in eight int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pair(byte* blk, int j, byte* scales, Vector256<sbyte> ylo, Vector256<sbyte> yhi)
    {
        var m4 = Vector256.Create((byte)0xF);
        var raw = Avx.LoadVector256(blk + 16 + (32 * j));
        var lo = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(raw & m4, ylo), Vector256.Create((short)scales[2 * j]));
        var hi = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & m4, yhi), Vector256.Create((short)scales[(2 * j) + 1]));
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MinPair(byte* mins, int* s32, int j) => (mins[2 * j] * s32[2 * j]) + (mins[(2 * j) + 1] * s32[(2 * j) + 1]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Mins(byte* mins, int* s32) =>
        (mins[0] * s32[0]) + (mins[1] * s32[1]) + (mins[2] * s32[2]) + (mins[3] * s32[3]) + (mins[4] * s32[4]) + (mins[5] * s32[5]) + (mins[6] * s32[6]) + (mins[7] * s32[7]);

    /// <summary>ggml's kmask unpacking of the 12 packed bytes: utmp[0..1] the eight scales, utmp[2..3] the eight minimums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack(byte* packed, uint* utmp)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint a = *(uint*)packed, b = *(uint*)(packed + 4), c = *(uint*)(packed + 8);
        utmp[3] = ((c >> 4) & kmask2) | (((b >> 6) & kmask3) << 4);
        utmp[2] = b & kmask1;
        utmp[1] = (c & kmask2) | (((a >> 6) & kmask3) << 4);
        utmp[0] = a & kmask1;
    }

    /// <summary>The same arithmetic one element at a time: exact integers, then ggml's float accumulation order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Reference(byte* w, Activations x, int b, int n, bool gemm)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var acc = 0f;
        var accm = 0f;
        var sc = stackalloc int[8];
        var mn = stackalloc int[8];
        for (var i = 0; i < nb; i++, w += BlockBytes, q += 256, bsums += 16)
        {
            for (var j = 0; j < 8; j++)
            {
                Dequantizer.ScaleMinK4(j, w + 4, out sc[j], out mn[j]);
            }

            var d = f16[*(ushort*)(w)] * dk[i];
            var dmin = f16[*(ushort*)(w + 2)] * dk[i];
            int isum = 0, iminTotal = 0;
            for (var sb = 0; sb < 4; sb++)
            {
                var qs = w + 16 + (32 * sb);
                var y = q + (64 * sb);
                int lo = 0, hi = 0;
                for (var l = 0; l < 32; l++)
                {
                    lo += (qs[l] & 0xF) * y[l];
                    hi += (qs[l] >> 4) * y[32 + l];
                }

                var isb = (sc[2 * sb] * lo) + (sc[(2 * sb) + 1] * hi);
                var s0 = bsums[4 * sb] + bsums[(4 * sb) + 1];
                var s1 = bsums[(4 * sb) + 2] + bsums[(4 * sb) + 3];
                var imin = (mn[2 * sb] * s0) + (mn[(2 * sb) + 1] * s1);
                if (gemm)
                {
                    acc = MathF.FusedMultiplyAdd(isb, d, acc);
                    accm = MathF.FusedMultiplyAdd(imin, dmin, accm);
                }
                else
                {
                    isum += isb;
                    iminTotal += imin;
                }
            }

            if (!gemm)
            {
                acc = MathF.FusedMultiplyAdd(isum, d, acc);
                accm = MathF.FusedMultiplyAdd(iminTotal, dmin, accm);
            }
        }

        return acc - accm;
    }
}
