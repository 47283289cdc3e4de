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
internal sealed unsafe partial class Q4KRepackedKernel(bool simd) : MatKernel
{
    private const int BlockBytes = 144;

    public static readonly MatKernel Simd = new Q4KRepackedKernel(simd: true);
    public static readonly MatKernel Portable = new Q4KRepackedKernel(simd: false);

    /// <summary>Q8_K, with the paired copy every SIMD path reads (<see cref="PairedDot"/>); the portable one reads the plain quants.</summary>
    public override ActivationKind Kind => ActivationKind.Q8_KPaired;

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
                if (!gemm && b + 1 < end && !op.InGemmGroup(b + 1))
                {
                    // Two sequences decoding together: each weight super-block unpacked once for both.
                    FourRowsGemvTwoActs(w, r4, x, b, n, y + ((long)b * yStride) + r4, yStride);
                    b++;
                    continue;
                }

                if (gemm)
                {
                    FourRows(w, r4, x, b, n, scratch);
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
        var q = x.QKPaired + ((long)b * n);
        var bs = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        Vector128<float> a = default, c = default;
        for (var i = 0; i < nb; i++, wr += BlockBytes, q += 256, bs += 16)
        {
            var sm = Avx2.ConvertToVector256Int16(Unpack(wr + 4).AsByte());
            var scales = Vector256.Create(sm.GetLower(), sm.GetLower()).AsByte();

            // Per activation, lane j: the minimums of the j-th 64 elements times its sums; transposed so that each
            // piece's vector holds the four activations.
            var mins = sm.GetUpper();
            var m0 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs));
            var m1 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + bss));
            var m2 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + (2 * bss)));
            var m3 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + (3 * bss)));
            Transpose(ref m0, ref m1, ref m2, ref m3);
            var d = Vector128.Create(dk[i], dk[i + nb], dk[i + (2 * nb)], dk[i + (3 * nb)]);
            var sd = d * f16[*(ushort*)wr];
            var smin = d * f16[*(ushort*)(wr + 2)];
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 0, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m0), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 1, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m1), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 2, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m2), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 3, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m3), smin, c);
        }

        var result = a - c;
        y[0] = result.GetElement(0);
        y[yStride] = result.GetElement(1);
        y[2 * yStride] = result.GetElement(2);
        y[3 * yStride] = result.GetElement(3);
    }

    /// <summary>Piece <paramref name="j"/> (64 elements) of one weight super-block with four activation rows: four integer totals (<see cref="PairedDot"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> FourActs(byte* blk, int j, Vector256<byte> scales, sbyte* q, int n)
    {
        var w1 = Q8Kernels.Nibbles(blk + 16 + (32 * j));
        var w2 = Q8Kernels.Nibbles(blk + 32 + (32 * j));
        var sc = PieceScales(scales, j);
        var o = q + (64 * j);
        var p0 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p1 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p2 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p3 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        return Sum4(p0, p1, p2, p3);
    }

    /// <summary>Four weight rows with one activation row of a gemm group (accumulated every 64 elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRows(Matrix w, int r, Activations x, int b, int n, float* result)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QKPaired + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        Vector128<float> a = default, c = default;
        for (var i = 0; i < nb; i++, q += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            var s16 = PairSums(bsums);
            var sm0 = Avx2.ConvertToVector256Int16(Unpack(w0 + 4).AsByte());
            var sm1 = Avx2.ConvertToVector256Int16(Unpack(w1 + 4).AsByte());
            var sm2 = Avx2.ConvertToVector256Int16(Unpack(w2 + 4).AsByte());
            var sm3 = Avx2.ConvertToVector256Int16(Unpack(w3 + 4).AsByte());
            var m0 = Sse2.MultiplyAddAdjacent(sm0.GetUpper(), s16);
            var m1 = Sse2.MultiplyAddAdjacent(sm1.GetUpper(), s16);
            var m2 = Sse2.MultiplyAddAdjacent(sm2.GetUpper(), s16);
            var m3 = Sse2.MultiplyAddAdjacent(sm3.GetUpper(), s16);
            Transpose(ref m0, ref m1, ref m2, ref m3);
            var sc0 = Vector256.Create(sm0.GetLower(), sm0.GetLower()).AsByte();
            var sc1 = Vector256.Create(sm1.GetLower(), sm1.GetLower()).AsByte();
            var sc2 = Vector256.Create(sm2.GetLower(), sm2.GetLower()).AsByte();
            var sc3 = Vector256.Create(sm3.GetLower(), sm3.GetLower()).AsByte();
            var d = dk[i];
            var sd = Halves(f16, w0, stride, 0) * d;
            var smin = Halves(f16, w0, stride, 2) * d;
            for (var j = 0; j < 4; j++)
            {
                var ylo = Avx.LoadVector256(q + (64 * j));
                var yhi = Avx.LoadVector256(q + (64 * j) + 32);
                var isb = Sum4(Pair(w0, j, sc0, ylo, yhi), Pair(w1, j, sc1, ylo, yhi), Pair(w2, j, sc2, ylo, yhi), Pair(w3, j, sc3, ylo, yhi));
                a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(isb), sd, a);
                var mj = j switch { 0 => m0, 1 => m1, 2 => m2, _ => m3 };
                c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(mj), smin, c);
            }
        }

        Vector128.Store(a - c, result);
    }

    /// <summary>ggml's kmask unpacking of the 12 packed bytes: bytes 0-7 the eight scales, 8-15 the eight minimums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Unpack(byte* packed)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint a = *(uint*)packed, b = *(uint*)(packed + 4), c = *(uint*)(packed + 8);
        return Vector128.Create(a & kmask1, (c & kmask2) | (((a >> 6) & kmask3) << 4), b & kmask1, ((c >> 4) & kmask2) | (((b >> 6) & kmask3) << 4));
    }

    /// <summary>Eight int32 vectors' lane totals, four vectors at once: lane k is the total of <paramref name="p0"/>..<paramref name="p3"/>'s k-th.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector256<int> p0, Vector256<int> p1, Vector256<int> p2, Vector256<int> p3)
    {
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p0, p1), Avx2.HorizontalAdd(p2, p3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>The fp16 at <paramref name="offset"/> of four consecutive rows' super-blocks (their d or dmin), as floats (<paramref name="f16"/>: <see cref="Fp16.Table"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Halves(float* f16, byte* w0, long stride, int offset)
    {
        // The table comes from the caller: read here, Fp16's static base would be fetched by a helper call inside the
        // kernels' loops (they are compiled before Fp16 is initialised), spilling every live vector around it.
        var p = w0 + offset;
        return Vector128.Create(f16[*(ushort*)p], f16[*(ushort*)(p + stride)], f16[*(ushort*)(p + (2 * stride))], f16[*(ushort*)(p + (3 * stride))]);
    }

    /// <summary>Four int32 vectors' lane totals: lane k is the total of the k-th vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector128<int> p0, Vector128<int> p1, Vector128<int> p2, Vector128<int> p3) =>
        Ssse3.HorizontalAdd(Ssse3.HorizontalAdd(p0, p1), Ssse3.HorizontalAdd(p2, p3));

    /// <summary>The sixteen 16-element sums of an activation super-block added in pairs: its eight 32-element sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> PairSums(short* bsums) => Ssse3.HorizontalAdd(Sse2.LoadVector128(bsums), Sse2.LoadVector128(bsums + 8));

    /// <summary>Transposes a 4×4 block of int32 held as four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector128<int> v0, ref Vector128<int> v1, ref Vector128<int> v2, ref Vector128<int> v3)
    {
        var lo01 = Sse2.UnpackLow(v0, v1).AsInt64();
        var lo23 = Sse2.UnpackLow(v2, v3).AsInt64();
        var hi01 = Sse2.UnpackHigh(v0, v1).AsInt64();
        var hi23 = Sse2.UnpackHigh(v2, v3).AsInt64();
        v0 = Sse2.UnpackLow(lo01, lo23).AsInt32();
        v1 = Sse2.UnpackHigh(lo01, lo23).AsInt32();
        v2 = Sse2.UnpackLow(hi01, hi23).AsInt32();
        v3 = Sse2.UnpackHigh(hi01, hi23).AsInt32();
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
