using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Dot product of one weight row (in its ggml layout) with one prepared activation row. Arguments: weight row,
/// float activations (F32/F16/BF16 weights), Q8 quants, Q8 per-32 scales, Q8 per-16 sums (quantized weights), and
/// the row length.
/// </summary>
internal unsafe struct DotKernel
{
    public delegate*<byte*, float*, sbyte*, float*, short*, int, float> Fn;
}

/// <summary>
/// Four dot products of one weight row with four consecutive activation rows (prompt processing): the weight
/// block is loaded and unpacked once and used four times. Arguments: weight row, float activations of the first
/// row, its Q8 quants, the same quants plus 128 as unsigned bytes, the Q8 scales, the row length, the distance
/// between activation rows in elements, and where to write the four results.
/// </summary>
internal unsafe struct DotKernel4
{
    public delegate*<byte*, float*, sbyte*, byte*, float*, int, int, float*, void> Fn;
}

/// <summary>
/// Chooses SIMD (AVX2/FMA, AVX-VNNI when present) or scalar dot kernels per tensor type. Quantized weights meet
/// Q8-quantized activations in integer arithmetic, as in llama.cpp: the weight block is unpacked to bytes, multiplied
/// with the int8 activations by maddubs/dpbusd, and scaled once per block.
/// </summary>
internal static unsafe class DotKernels
{
    public static bool SimdSupported => Avx2.IsSupported && Fma.IsSupported;

    public static DotKernel Get(GgmlType type, bool simd)
    {
        simd &= SimdSupported;
        DotKernel k;
        k.Fn = (type, simd) switch
        {
            (GgmlType.F32, true) => &SimdF32,
            (GgmlType.F32, false) => &ScalarF32,
            (GgmlType.F16, true) => &SimdF16,
            (GgmlType.F16, false) => &ScalarF16,
            (GgmlType.BF16, true) => &SimdBf16,
            (GgmlType.BF16, false) => &ScalarBf16,
            (GgmlType.Q8_0, true) => &SimdQ8_0,
            (GgmlType.Q8_0, false) => &ScalarQ8_0,
            (GgmlType.Q4_0, true) => &SimdQ4_0,
            (GgmlType.Q4_0, false) => &ScalarQ4_0,
            (GgmlType.Q4_1, true) => &SimdQ4_1,
            (GgmlType.Q4_1, false) => &ScalarQ4_1,
            (GgmlType.Q5_0, true) => &SimdQ5_0,
            (GgmlType.Q5_0, false) => &ScalarQ5_0,
            (GgmlType.Q5_1, true) => &SimdQ5_1,
            (GgmlType.Q5_1, false) => &ScalarQ5_1,
            (GgmlType.Q4_K, true) => &SimdQ4K,
            (GgmlType.Q4_K, false) => &ScalarQ4K,
            (GgmlType.Q5_K, true) => &SimdQ5K,
            (GgmlType.Q5_K, false) => &ScalarQ5K,
            (GgmlType.Q6_K, true) => &SimdQ6K,
            (GgmlType.Q6_K, false) => &ScalarQ6K,
            _ => throw new NotSupportedException($"No dot product for tensor type {type}."),
        };
        return k;
    }

    /// <summary>The four-row kernel for <paramref name="type"/>, or a null function when the type has none (callers loop instead).</summary>
    public static DotKernel4 Get4(GgmlType type, bool simd)
    {
        DotKernel4 k;
        k.Fn = null;
        if (simd && SimdSupported)
        {
            if (type == GgmlType.Q8_0)
            {
                k.Fn = AvxVnni.IsSupported ? &VnniQ8_0x4 : &SimdQ8_0x4;
            }
            else if (type == GgmlType.F16)
            {
                k.Fn = &SimdF16x4;
            }
        }

        return k;
    }

    private static float H(byte* p) => Fp16.ToSingle(p);

    /// <summary>
    /// With VNNI the sign trick is unnecessary: dpbusd multiplies the unsigned activations (x + 128) with the signed
    /// weights directly, and the 128 × Σw excess is subtracted by starting each accumulator at −128 × Σw (computed
    /// once per weight block and shared by the four rows).
    /// </summary>
    private static void VnniQ8_0x4(byte* w, float* x, sbyte* q, byte* qu, float* d, int n, int stride, float* result)
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

    private static void SimdQ8_0x4(byte* w, float* x, sbyte* q, byte* qu, float* d, int n, int stride, float* result)
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

    private static void SimdF16x4(byte* w, float* x, sbyte* q, byte* qu, float* d, int n, int stride, float* result)
    {
        var h = (short*)w;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var wf = FiniteHalfToSingle(Sse2.LoadVector128(h + i));
            a0 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + stride + i), a1);
            a2 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + (2 * stride) + i), a2);
            a3 = Fma.MultiplyAdd(wf, Avx.LoadVector256(x + (3 * stride) + i), a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
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

    // ---------------------------------------------------------------- scalar

    private static float ScalarF32(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var f = (float*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += f[i] * x[i];
        }

        return (float)sum;
    }

    private static float ScalarF16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (ushort*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += Fp16.ToSingle(h[i]) * x[i];
        }

        return (float)sum;
    }

    private static float ScalarBf16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (ushort*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += Dequantizer.Bf16(h[i]) * x[i];
        }

        return (float)sum;
    }

    private static float ScalarQ8_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 34, q += 32)
        {
            var qs = (sbyte*)(w + 2);
            var isum = 0;
            for (var j = 0; j < 32; j++)
            {
                isum += qs[j] * q[j];
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ4_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 18, q += 32)
        {
            var qs = w + 2;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                isum += (((qs[j] & 0xF) - 8) * q[j]) + (((qs[j] >> 4) - 8) * q[j + 16]);
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ4_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 20, q += 32)
        {
            var qs = w + 4;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                isum += ((qs[j] & 0xF) * q[j]) + ((qs[j] >> 4) * q[j + 16]);
            }

            sum += (isum * (H(w) * d[b])) + (H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]));
        }

        return sum;
    }

    private static float ScalarQ5_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 22, q += 32)
        {
            var qh = *(uint*)(w + 2);
            var qs = w + 6;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                var x0 = ((qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10)) - 16;
                var x1 = ((qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - 16;
                isum += (x0 * q[j]) + (x1 * q[j + 16]);
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ5_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 24, q += 32)
        {
            var qh = *(uint*)(w + 4);
            var qs = w + 8;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                var x0 = (qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10);
                var x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
                isum += (x0 * q[j]) + (x1 * q[j + 16]);
            }

            sum += (isum * (H(w) * d[b])) + (H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]));
        }

        return sum;
    }

    private static float ScalarQ4K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => ScalarQ45K(w, q, d, s, n, five: false);

    private static float ScalarQ5K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => ScalarQ45K(w, q, d, s, n, five: true);

    private static float ScalarQ45K(byte* w, sbyte* q, float* d, short* s, int n, bool five)
    {
        var sum = 0f;
        var blockBytes = five ? 176 : 144;
        for (var k = 0; k < n / 256; k++, w += blockBytes)
        {
            float dall = H(w), dmin = H(w + 2);
            var scales = w + 4;
            var qh = w + 16;
            var qs = w + (five ? 48 : 16);
            for (var sub = 0; sub < 8; sub++)
            {
                Dequantizer.ScaleMinK4(sub, scales, out var sc, out var m);
                var chunk = sub / 2;
                var high = sub % 2 == 1;
                var isum = 0;
                var xq = q + (k * 256) + (sub * 32);
                for (var l = 0; l < 32; l++)
                {
                    var b = qs[(chunk * 32) + l];
                    var v = high ? b >> 4 : b & 0xF;
                    if (five && (qh[l] & (1 << sub)) != 0)
                    {
                        v += 16;
                    }

                    isum += v * xq[l];
                }

                var blk = (k * 8) + sub;
                var dx = d[blk];
                sum += (dall * sc * dx * isum) - (dmin * m * dx * (s[2 * blk] + s[(2 * blk) + 1]));
            }
        }

        return sum;
    }

    private static float ScalarQ6K(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var k = 0; k < n / 256; k++, w += 210)
        {
            var dall = H(w + 208);
            for (var half = 0; half < 2; half++)
            {
                var ql = w + (half * 64);
                var qh = w + 128 + (half * 32);
                var sc = (sbyte*)(w + 192) + (half * 8);
                for (var g = 0; g < 4; g++)
                {
                    var off = (k * 256) + (half * 128) + (g * 32);
                    var xq = q + off;
                    var isum = 0;
                    for (var l = 0; l < 32; l++)
                    {
                        var lo = g is 0 or 2 ? ql[l] : ql[l + 32];
                        var nib = g < 2 ? lo & 0xF : lo >> 4;
                        var v = (nib | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                        isum += sc[(2 * g) + (l / 16)] * v * xq[l];
                    }

                    sum += dall * d[off / 32] * isum;
                }
            }
        }

        return sum;
    }

    // ---------------------------------------------------------------- SIMD (AVX2 + FMA)

    private static float SimdF32(byte* w, float* x, sbyte* q, float* d, short* s, int n) =>
        TensorPrimitives.Dot(new ReadOnlySpan<float>(w, n), new ReadOnlySpan<float>(x, n));

    private static float SimdF16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (short*)w;
        var i = 0;
        var sum = 0f;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported)
        {
            Vector512<float> b0 = default, b1 = default;
            for (; i + 32 <= n; i += 32)
            {
                b0 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i)), Avx512F.LoadVector512(x + i), b0);
                b1 = Avx512F.FusedMultiplyAdd(FiniteHalfToSingle(Avx.LoadVector256(h + i + 16)), Avx512F.LoadVector512(x + i + 16), b1);
            }

            sum = Vector512.Sum(b0 + b1);
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

    /// <summary>
    /// fp16 → fp32 for 8 values with integer ops (no F16C intrinsics in .NET): move exponent and mantissa into
    /// place, rebias, and fix infinities/NaN and subnormals with selects.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfToSingle(Vector128<ushort> h)
    {
        var x = Avx2.ConvertToVector256Int32(h);
        var sign = Avx2.ShiftLeftLogical(x & Vector256.Create(0x8000), 16);
        var o = Avx2.ShiftLeftLogical(x & Vector256.Create(0x7fff), 13);
        var exp = o & Vector256.Create(0x0f800000);
        o += Vector256.Create(0x38000000);
        var infNan = Avx2.CompareEqual(exp, Vector256.Create(0x0f800000));
        o += infNan & Vector256.Create(0x38000000);
        var zeroExp = Avx2.CompareEqual(exp, Vector256<int>.Zero);
        var denorm = ((o + Vector256.Create(0x00800000)).AsSingle() - Vector256.Create(6.103515625e-05f)).AsInt32();
        o = Avx2.BlendVariable(o, denorm, zeroExp);
        return (o | sign).AsSingle();
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
