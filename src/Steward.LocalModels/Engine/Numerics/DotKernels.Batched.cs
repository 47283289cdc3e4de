using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>Four-activation-row kernels for prompt processing.</summary>
internal static unsafe partial class DotKernels
{
    /// <summary>Sum of the Q8 activations of 32-element block <paramref name="block"/> (from the per-16 sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Sum32(short* s, int block) => s[2 * block] + s[(2 * block) + 1];

    private static void SimdQ4_0x4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        var nb = n / 32;
        var ds = stride / 32;
        for (var b = 0; b < nb; b++, w += 18, q += 32)
        {
            var qv = Nibbles32(w + 2);
            var sw = H(w);
            float s0 = sw * d[b], s1 = sw * d[b + ds], s2 = sw * d[b + (2 * ds)], s3 = sw * d[b + (3 * ds)];
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MulSum(qv, Avx.LoadVector256(q))), Vector256.Create(s0), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MulSum(qv, Avx.LoadVector256(q + stride))), Vector256.Create(s1), a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MulSum(qv, Avx.LoadVector256(q + (2 * stride)))), Vector256.Create(s2), a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MulSum(qv, Avx.LoadVector256(q + (3 * stride)))), Vector256.Create(s3), a3);
            c0 += s0 * 8 * Sum32(s, b);
            c1 += s1 * 8 * Sum32(s, b + ds);
            c2 += s2 * 8 * Sum32(s, b + (2 * ds));
            c3 += s3 * 8 * Sum32(s, b + (3 * ds));
        }

        result[0] = Vector256.Sum(a0) - c0;
        result[1] = Vector256.Sum(a1) - c1;
        result[2] = Vector256.Sum(a2) - c2;
        result[3] = Vector256.Sum(a3) - c3;
    }

    private static void SimdQ4Kx4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        var ds = stride / 32;
        var low = Vector256.Create((byte)0x0F);
        for (var k = 0; k < n / 256; k++, w += 144)
        {
            float dall = H(w), dmin = H(w + 2);
            var scales = w + 4;
            for (var c = 0; c < 4; c++)
            {
                var raw = Avx.LoadVector256(w + 16 + (c * 32));
                var lo = raw & low;
                var hi = Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & low;
                Dequantizer.ScaleMinK4(2 * c, scales, out var sc1, out var mn1);
                Dequantizer.ScaleMinK4((2 * c) + 1, scales, out var sc2, out var mn2);
                var blk = (k * 8) + (2 * c);
                var xq = q + (blk * 32);
                Q4KPair(lo, hi, xq, d, s, blk, dall * sc1, dall * sc2, dmin * mn1, dmin * mn2, ref a0, ref c0);
                Q4KPair(lo, hi, xq + stride, d, s, blk + ds, dall * sc1, dall * sc2, dmin * mn1, dmin * mn2, ref a1, ref c1);
                Q4KPair(lo, hi, xq + (2 * stride), d, s, blk + (2 * ds), dall * sc1, dall * sc2, dmin * mn1, dmin * mn2, ref a2, ref c2);
                Q4KPair(lo, hi, xq + (3 * stride), d, s, blk + (3 * ds), dall * sc1, dall * sc2, dmin * mn1, dmin * mn2, ref a3, ref c3);
            }
        }

        result[0] = Vector256.Sum(a0) - c0;
        result[1] = Vector256.Sum(a1) - c1;
        result[2] = Vector256.Sum(a2) - c2;
        result[3] = Vector256.Sum(a3) - c3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPair(Vector256<byte> lo, Vector256<byte> hi, sbyte* xq, float* d, short* s, int blk, float scale1, float scale2, float min1, float min2, ref Vector256<float> acc, ref float corr)
    {
        var p1 = MulSum(lo, Avx.LoadVector256(xq));
        var p2 = MulSum(hi, Avx.LoadVector256(xq + 32));
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(scale1 * d[blk]), acc);
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p2), Vector256.Create(scale2 * d[blk + 1]), acc);
        corr += (min1 * d[blk] * Sum32(s, blk)) + (min2 * d[blk + 1] * Sum32(s, blk + 1));
    }

    private static void SimdQ6Kx4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
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
                for (var g = 0; g < 4; g++)
                {
                    var nib = g switch
                    {
                        0 => ql0 & low,
                        1 => ql1 & low,
                        2 => Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low,
                        _ => Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low,
                    };
                    var shifted = g switch
                    {
                        0 => qh,
                        1 => Avx2.ShiftRightLogical(qh, 2),
                        2 => Avx2.ShiftRightLogical(qh, 4),
                        _ => Avx2.ShiftRightLogical(qh, 6),
                    };
                    var qv = nib | Avx2.ShiftLeftLogical((shifted.AsByte() & Vector256.Create((byte)3)).AsUInt16(), 4).AsByte();
                    short sa = sc[2 * g], sb = sc[(2 * g) + 1];
                    var scv = Vector256.Create(Vector128.Create(sa), Vector128.Create(sb));
                    var o = off + (g * 32);
                    Q6Row(qv, scv, sa, sb, q, d, s, o, dall, ref a0, ref c0);
                    Q6Row(qv, scv, sa, sb, q, d, s, o + stride, dall, ref a1, ref c1);
                    Q6Row(qv, scv, sa, sb, q, d, s, o + (2 * stride), dall, ref a2, ref c2);
                    Q6Row(qv, scv, sa, sb, q, d, s, o + (3 * stride), dall, ref a3, ref c3);
                }
            }
        }

        result[0] = Vector256.Sum(a0) - c0;
        result[1] = Vector256.Sum(a1) - c1;
        result[2] = Vector256.Sum(a2) - c2;
        result[3] = Vector256.Sum(a3) - c3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6Row(Vector256<byte> qv, Vector256<short> scv, short sa, short sb, sbyte* q, float* d, short* s, int off, float dall, ref Vector256<float> acc, ref float corr)
    {
        var p = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(qv, Avx.LoadVector256(q + off)), scv);
        var scale = dall * d[off / 32];
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(scale), acc);
        corr += scale * 32 * ((sa * s[off / 16]) + (sb * s[(off / 16) + 1]));
    }

    /// <summary>
    /// With VNNI the sign trick is unnecessary: dpbusd multiplies the unsigned activations (x + 128) with the signed
    /// weights directly, and the 128 × Σw excess is subtracted by starting each accumulator at −128 × Σw (computed
    /// once per weight block and shared by the four rows).
    /// </summary>
    private static void VnniQ8_0x4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var nb = n / 32;
        var ds = stride / 32;
        var k128 = Vector256.Create((byte)128);
        for (var b = 0; b < nb; b++, w += 34, qu += 32)
        {
            var wv = Avx.LoadVector256((sbyte*)(w + 2));
            var start = Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, k128, wv);
            var sw = H(w);
            var p0 = AvxVnni.MultiplyWideningAndAdd(start, Avx.LoadVector256(qu), wv);
            var p1 = AvxVnni.MultiplyWideningAndAdd(start, Avx.LoadVector256(qu + stride), wv);
            var p2 = AvxVnni.MultiplyWideningAndAdd(start, Avx.LoadVector256(qu + (2 * stride)), wv);
            var p3 = AvxVnni.MultiplyWideningAndAdd(start, Avx.LoadVector256(qu + (3 * stride)), wv);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(sw * d[b]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(sw * d[b + ds]), a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p2), Vector256.Create(sw * d[b + (2 * ds)]), a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p3), Vector256.Create(sw * d[b + (3 * ds)]), a3);
        }

        result[0] = Vector256.Sum(a0);
        result[1] = Vector256.Sum(a1);
        result[2] = Vector256.Sum(a2);
        result[3] = Vector256.Sum(a3);
    }

    private static void SimdQ8_0x4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var nb = n / 32;
        var ds = stride / 32;
        for (var b = 0; b < nb; b++, w += 34, q += 32)
        {
            var wv = Avx.LoadVector256((sbyte*)(w + 2));
            var aw = Avx2.Abs(wv);
            var sw = H(w);
            var p0 = MulSum(aw, Avx2.Sign(Avx.LoadVector256(q), wv));
            var p1 = MulSum(aw, Avx2.Sign(Avx.LoadVector256(q + stride), wv));
            var p2 = MulSum(aw, Avx2.Sign(Avx.LoadVector256(q + (2 * stride)), wv));
            var p3 = MulSum(aw, Avx2.Sign(Avx.LoadVector256(q + (3 * stride)), wv));
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(sw * d[b]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(sw * d[b + ds]), a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p2), Vector256.Create(sw * d[b + (2 * ds)]), a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p3), Vector256.Create(sw * d[b + (3 * ds)]), a3);
        }

        result[0] = Vector256.Sum(a0);
        result[1] = Vector256.Sum(a1);
        result[2] = Vector256.Sum(a2);
        result[3] = Vector256.Sum(a3);
    }

    private static void SimdF16x4(byte* w, float* x, sbyte* q, byte* qu, float* d, short* s, int n, int stride, float* result)
    {
        var h = (short*)w;
        var i = 0;
        float z0 = 0, z1 = 0, z2 = 0, z3 = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            for (; i + 16 <= n; i += 16)
            {
                var wf = FiniteHalfToSingle(Avx.LoadVector256(h + i));
                b0 = Avx512F.FusedMultiplyAdd(wf, Avx512F.LoadVector512(x + i), b0);
                b1 = Avx512F.FusedMultiplyAdd(wf, Avx512F.LoadVector512(x + stride + i), b1);
                b2 = Avx512F.FusedMultiplyAdd(wf, Avx512F.LoadVector512(x + (2 * stride) + i), b2);
                b3 = Avx512F.FusedMultiplyAdd(wf, Avx512F.LoadVector512(x + (3 * stride) + i), b3);
            }

            (z0, z1, z2, z3) = (Vector512.Sum(b0), Vector512.Sum(b1), Vector512.Sum(b2), Vector512.Sum(b3));
        }

        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; i + 8 <= n; i += 8)
        {
            var wf = FiniteHalfToSingle(Sse2.LoadVector128(h + i));
            a0 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + stride + i), a1);
            a2 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + (2 * stride) + i), a2);
            a3 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + (3 * stride) + i), a3);
        }

        float s0 = z0 + Vector256.Sum(a0), s1 = z1 + Vector256.Sum(a1), s2 = z2 + Vector256.Sum(a2), s3 = z3 + Vector256.Sum(a3);
        for (; i < n; i++)
        {
            var wv = Fp16.ToSingle((ushort)h[i]);
            s0 += wv * x[i];
            s1 += wv * x[stride + i];
            s2 += wv * x[(2 * stride) + i];
            s3 += wv * x[(3 * stride) + i];
        }

        result[0] = s0;
        result[1] = s1;
        result[2] = s2;
        result[3] = s3;
    }
}
