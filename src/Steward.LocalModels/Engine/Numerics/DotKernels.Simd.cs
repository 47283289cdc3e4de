using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>AVX2/FMA (and AVX-512 / AVX-VNNI where present) single-row kernels.</summary>
internal static unsafe partial class DotKernels
{
    private static float SimdF32(byte* w, float* x, sbyte* q, float* d, short* s, int n) =>
        TensorPrimitives.Dot(new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(x, n));

    private static float SimdF16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (short*)w;
        var i = 0;
        var sum = 0f;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported)
        {
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            for (; i + 64 <= n; i += 64)
            {
                b0 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i)), Avx512F.LoadVector512(x + i), b0);
                b1 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i + 16)), Avx512F.LoadVector512(x + i + 16), b1);
                b2 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i + 32)), Avx512F.LoadVector512(x + i + 32), b2);
                b3 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i + 48)), Avx512F.LoadVector512(x + i + 48), b3);
            }

            for (; i + 16 <= n; i += 16)
            {
                b0 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i)), Avx512F.LoadVector512(x + i), b0);
            }

            sum = Vector512.Sum((b0 + b1) + (b2 + b3));
        }

        Vector256<float> a0 = default, a1 = default;
        for (; i + 16 <= n; i += 16)
        {
            a0 = Fma.MultiplyAdd(FiniteHalfToSingle(Sse2.LoadVector128(h + i)), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(FiniteHalfToSingle(Sse2.LoadVector128(h + i + 8)), Avx.LoadVector256(x + i + 8), a1);
        }

        for (; i + 8 <= n; i += 8)
        {
            a0 = Fma.MultiplyAdd(FiniteHalfToSingle(Sse2.LoadVector128(h + i)), Avx.LoadVector256(x + i), a0);
        }

        sum += Vector256.Sum(a0 + a1);
        for (; i < n; i++)
        {
            sum += Fp16.ToSingle((ushort)h[i]) * x[i];
        }

        return sum;
    }

    /// <summary>
    /// fp16 → fp32 in four instructions for finite values (weights and the KV cache are finite): sign-extend, shift
    /// sign, exponent and mantissa into float position, clear the copies of the sign, and rebias the exponent by
    /// multiplying with 2^112 (which also turns fp16 subnormals into the right normal floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FiniteHalfToSingle(Vector128<short> h)
    {
        var x = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(h), 13) & Vector256.Create(unchecked((int)0x8FFFE000));
        return Avx.Multiply(x.AsSingle(), Vector256.Create(5.192296858534828e+33f));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FiniteHalfToSingle(Vector256<short> h)
    {
        var x = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(h), 13) & Vector512.Create(unchecked((int)0x8FFFE000));
        return Avx512F.Multiply(x.AsSingle(), Vector512.Create(5.192296858534828e+33f));
    }

    private static float SimdBf16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (ushort*)w;
        Vector256<float> acc = default;
        var i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var wide = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128(h + i)), 16).AsSingle();
            acc = Fma.MultiplyAdd(wide, Avx.LoadVector256(x + i), acc);
        }

        var sum = Vector256.Sum(acc);
        for (; i < n; i++)
        {
            sum += Dequantizer.Bf16(h[i]) * x[i];
        }

        return sum;
    }

    /// <summary>Sum of u8×i8 products in groups of four bytes, into 8 int32 lanes (dpbusd when AVX-VNNI exists).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MulSum(Vector256<byte> u, Vector256<sbyte> s)
    {
        if (AvxVnni.IsSupported)
        {
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
        }

        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles32(byte* p)
    {
        var raw = Sse2.LoadVector128(p);
        var lo = raw & Vector128.Create((byte)0x0F);
        var hi = Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F);
        return Vector256.Create(lo, hi);
    }

    /// <summary>Expands 32 bits to 32 bytes that are 0x10 where the bit is set (the fifth bit of Q5 quants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HighBits32(uint bits)
    {
        var v = Vector256.Create(bits).AsByte();
        var shuffled = Avx2.Shuffle(v, Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var mask = Vector256.Create(0x7fbfdfeff7fbfdfeUL).AsByte();
        var set = Avx2.CompareEqual(shuffled | mask, Vector256<byte>.AllBitsSet);
        return set & Vector256.Create((byte)0x10);
    }

    private static float SimdQ8_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        // Two blocks per iteration into two accumulators: one chain of dependent FMAs would cap the loop at the
        // FMA latency (4 cycles a block) rather than its throughput.
        Vector256<float> acc0 = default, acc1 = default;
        var nb = n / 32;
        var b = 0;
        for (; b + 1 < nb; b += 2, w += 68, q += 64)
        {
            var w0 = Avx.LoadVector256((sbyte*)(w + 2));
            var w1 = Avx.LoadVector256((sbyte*)(w + 36));
            var p0 = MulSum(Avx2.Abs(w0), Avx2.Sign(Avx.LoadVector256(q), w0));
            var p1 = MulSum(Avx2.Abs(w1), Avx2.Sign(Avx.LoadVector256(q + 32), w1));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(H(w) * d[b]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(H(w + 34) * d[b + 1]), acc1);
        }

        if (b < nb)
        {
            var w0 = Avx.LoadVector256((sbyte*)(w + 2));
            var p0 = MulSum(Avx2.Abs(w0), Avx2.Sign(Avx.LoadVector256(q), w0));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(H(w) * d[b]), acc0);
        }

        return Vector256.Sum(acc0 + acc1);
    }

    private static float SimdQ4_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var nb = n / 32;
        for (var b = 0; b < nb; b++, w += 18, q += 32)
        {
            var p = MulSum(Nibbles32(w + 2), Avx.LoadVector256(q));
            var scale = H(w) * d[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(scale), acc);
            corr += scale * (8 * (s[2 * b] + s[(2 * b) + 1]));
        }

        return Vector256.Sum(acc) - corr;
    }

    private static float SimdQ4_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var nb = n / 32;
        for (var b = 0; b < nb; b++, w += 20, q += 32)
        {
            var p = MulSum(Nibbles32(w + 4), Avx.LoadVector256(q));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(H(w) * d[b]), acc);
            corr += H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]);
        }

        return Vector256.Sum(acc) + corr;
    }

    private static float SimdQ5_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var nb = n / 32;
        for (var b = 0; b < nb; b++, w += 22, q += 32)
        {
            var qv = Nibbles32(w + 6) | HighBits32(*(uint*)(w + 2));
            var p = MulSum(qv, Avx.LoadVector256(q));
            var scale = H(w) * d[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(scale), acc);
            corr += scale * (16 * (s[2 * b] + s[(2 * b) + 1]));
        }

        return Vector256.Sum(acc) - corr;
    }

    private static float SimdQ5_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var nb = n / 32;
        for (var b = 0; b < nb; b++, w += 24, q += 32)
        {
            var qv = Nibbles32(w + 8) | HighBits32(*(uint*)(w + 4));
            var p = MulSum(qv, Avx.LoadVector256(q));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(H(w) * d[b]), acc);
            corr += H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]);
        }

        return Vector256.Sum(acc) + corr;
    }

    private static float SimdQ4K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => SimdQ45K(w, q, d, s, n, five: false);

    private static float SimdQ5K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => SimdQ45K(w, q, d, s, n, five: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SimdQ45K(byte* w, sbyte* q, float* d, short* s, int n, bool five)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var blockBytes = five ? 176 : 144;
        var low = Vector256.Create((byte)0x0F);
        for (var k = 0; k < n / 256; k++, w += blockBytes)
        {
            float dall = H(w), dmin = H(w + 2);
            var scales = w + 4;
            var qs = w + (five ? 48 : 16);
            var qh = five ? Avx.LoadVector256(w + 16) : default;
            for (var c = 0; c < 4; c++)
            {
                var raw = Avx.LoadVector256(qs + (c * 32));
                var lo = raw & low;
                var hi = Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & low;
                if (five)
                {
                    var m1 = Vector256.Create((byte)(1 << (2 * c)));
                    var m2 = Vector256.Create((byte)(2 << (2 * c)));
                    lo |= Avx2.CompareEqual(qh & m1, m1) & Vector256.Create((byte)0x10);
                    hi |= Avx2.CompareEqual(qh & m2, m2) & Vector256.Create((byte)0x10);
                }

                var blk = (k * 8) + (2 * c);
                var xq = q + (blk * 32);
                Dequantizer.ScaleMinK4(2 * c, scales, out var sc1, out var mn1);
                Dequantizer.ScaleMinK4((2 * c) + 1, scales, out var sc2, out var mn2);
                var p1 = MulSum(lo, Avx.LoadVector256(xq));
                var p2 = MulSum(hi, Avx.LoadVector256(xq + 32));
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(dall * sc1 * d[blk]), acc);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p2), Vector256.Create(dall * sc2 * d[blk + 1]), acc);
                corr += dmin * ((mn1 * d[blk] * (s[2 * blk] + s[(2 * blk) + 1])) + (mn2 * d[blk + 1] * (s[(2 * blk) + 2] + s[(2 * blk) + 3])));
            }
        }

        return Vector256.Sum(acc) - corr;
    }

    private static float SimdQ6K(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        Vector256<float> acc = default;
        var corr = 0f;
        var low = Vector256.Create((byte)0x0F);
        for (var k = 0; k < n / 256; k++, w += 210)
        {
            var dall = H(w + 208);
            for (var half = 0; half < 2; half++)
            {
                var ql = w + (half * 64);
                var sc = (sbyte*)(w + 192) + (half * 8);
                var ql0 = Avx.LoadVector256(ql);
                var ql1 = Avx.LoadVector256(ql + 32);
                var qh = Avx.LoadVector256(w + 128 + (half * 32)).AsUInt16();
                var off = (k * 256) + (half * 128);
                Q6Group(ql0 & low, qh, sc, q, d, s, off, dall, ref acc, ref corr);
                Q6Group(ql1 & low, Avx2.ShiftRightLogical(qh, 2), sc + 2, q, d, s, off + 32, dall, ref acc, ref corr);
                Q6Group(Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low, Avx2.ShiftRightLogical(qh, 4), sc + 4, q, d, s, off + 64, dall, ref acc, ref corr);
                Q6Group(Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low, Avx2.ShiftRightLogical(qh, 6), sc + 6, q, d, s, off + 96, dall, ref acc, ref corr);
            }
        }

        return Vector256.Sum(acc) - corr;
    }

    /// <summary>32 Q6_K quants (unsigned 0..63, offset 32 removed through the activation sums) with two 16-element scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6Group(Vector256<byte> nib, Vector256<ushort> qhShifted, sbyte* sc, sbyte* q, float* d, short* s, int off, float dall, ref Vector256<float> acc, ref float corr)
    {
        var hb = qhShifted.AsByte() & Vector256.Create((byte)3);
        var qv = nib | Avx2.ShiftLeftLogical(hb.AsUInt16(), 4).AsByte();
        var p16 = Avx2.MultiplyAddAdjacent(qv, Avx.LoadVector256(q + off));
        short sa = sc[0], sb = sc[1];
        var p = Avx2.MultiplyAddAdjacent(p16, Vector256.Create(Vector128.Create(sa), Vector128.Create(sb)));
        var scale = dall * d[off / 32];
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(scale), acc);
        corr += scale * 32 * ((sa * s[off / 16]) + (sb * s[(off / 16) + 1]));
    }
}
