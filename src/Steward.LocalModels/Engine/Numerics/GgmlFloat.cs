using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The floating-point sequences of ggml's CPU backend, reproduced operation for operation so that a forward pass
/// gives llama.cpp's bits, not merely close values: the order of every reduction, which products are fused into an
/// FMA and which are rounded first, and the vectorised exp/SiLU approximations. The reference is the AVX-512 build
/// llama.cpp selects on current x86 servers (its "zen4"/"icelake" CPU variants); the same sequences run on any CPU
/// through .NET's portable vectors, so results do not depend on the machine. Scalar libm calls (expf, sincosf,
/// powf) go to the same C library through <see cref="MathF"/>.
/// </summary>
internal static class GgmlFloat
{
    /// <summary>A float from its bits: the C constants are hexadecimal floats, which C# cannot write.</summary>
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    /// <summary>GCC's <c>_mm512_reduce_add_ps</c>: halves 512→256→128, then (0+2)+(1+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce16(Vector512<float> v)
    {
        var a = v.GetUpper() + v.GetLower();
        var b = a.GetUpper() + a.GetLower();
        return (b.GetElement(0) + b.GetElement(2)) + (b.GetElement(1) + b.GetElement(3));
    }

    /// <summary>ggml's <c>hsum_float_8</c> (and tinyBLAS's hsum of a __m256): hi+lo, then (0+2)+(1+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Hsum8(Vector256<float> v)
    {
        var r = v.GetUpper() + v.GetLower();
        return (r.GetElement(0) + r.GetElement(2)) + (r.GetElement(1) + r.GetElement(3));
    }

    /// <summary>The 4-lane reduction ggml uses for the Q4_K mins accumulator: (0+2)+(1+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Hsum4(Vector128<float> r) => (r.GetElement(0) + r.GetElement(2)) + (r.GetElement(1) + r.GetElement(3));

    /// <summary>
    /// ggml_v_expf for 16 lanes as the AVX-512 build computes it (a degree-5 polynomial and a scalef), including its
    /// saturation: |n| &gt; 192 gives 0 (x very negative) or +inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp16(Vector512<float> x)
    {
        var r = Vector512.Create(F(0x4B400000) /* 0x1.8p23 */);
        var z = Vector512.FusedMultiplyAdd(x, Vector512.Create(F(0x3FB8AA3B) /* 0x1.715476p+0 */), r);
        var n = z - r;
        var b = Vector512.FusedMultiplyAdd(-n, Vector512.Create(F(0x35BFBE8E) /* 0x1.7f7d1cp-20 */), Vector512.FusedMultiplyAdd(-n, Vector512.Create(F(0x3F317200) /* 0x1.62e4p-1 */), x));
        var u = b * b;
        var j = Vector512.FusedMultiplyAdd(
            Vector512.FusedMultiplyAdd(
                Vector512.FusedMultiplyAdd(Vector512.Create(F(0x3C072010) /* 0x1.0e4020p-7 */), b, Vector512.Create(F(0x3D2B9F17) /* 0x1.573e2ep-5 */)),
                u,
                Vector512.FusedMultiplyAdd(Vector512.Create(F(0x3E2AAF33) /* 0x1.555e66p-3 */), b, Vector512.Create(F(0x3EFFFEDB) /* 0x1.fffdb6p-2 */))),
            u,
            Vector512.FusedMultiplyAdd(Vector512.Create(F(0x3F7FFFF6) /* 0x1.ffffecp-1 */), b, Vector512<float>.One));
        var res = ScaleByPowerOfTwo(j, n);
        var d = Vector512.GreaterThan(Vector512.Abs(n), Vector512.Create(192f));
        if (d.AsUInt32() == Vector512<uint>.Zero)
        {
            return res;
        }

        var alt = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(n, Vector512<float>.Zero), Vector512<float>.Zero, Vector512.Create(float.PositiveInfinity));
        return Vector512.ConditionalSelect(d, alt, res);
    }

    /// <summary>ggml_v_silu for 16 lanes: x / (1 + exp(0 - x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Silu16(Vector512<float> x) => x / (Vector512<float>.One + Exp16(Vector512<float>.Zero - x));

    /// <summary>ggml_silu_f32, the scalar tail: x / (1 + expf(-x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>ggml_vec_swiglu_f32: y = silu(x) * g, 16 lanes at a time, the tail in scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void SwiGlu(int n, float* y, float* x, float* g)
    {
        var i = 0;
        for (; i + 15 < n; i += 16)
        {
            Vector512.Store(Silu16(Vector512.Load(x + i)) * Vector512.Load(g + i), y + i);
        }

        for (; i < n; i++)
        {
            y[i] = Silu(x[i]) * g[i];
        }
    }

    /// <summary>
    /// ggml_vec_soft_max_f32 (AVX-512): y = exp(x - max) 16 lanes at a time, summing each group's reduction in double;
    /// the tail uses libm's expf. Returns the double sum, as ggml does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe double SoftMax(int n, float* y, float* x, float max)
    {
        var i = 0;
        double sum = 0;
        var m = Vector512.Create(max);
        for (; i + 15 < n; i += 16)
        {
            var val = Exp16(Vector512.Load(x + i) - m);
            Vector512.Store(val, y + i);
            sum += Reduce16(val);
        }

        for (; i < n; i++)
        {
            var val = MathF.Exp(x[i] - max);
            sum += val;
            y[i] = val;
        }

        return sum;
    }

    /// <summary>
    /// Rounds each lane to fp16 precision (round to nearest even, overflow to infinity, fp16 subnormals kept) and
    /// returns it as a float: what storing to fp16 and loading back does. ggml keeps its flash-attention accumulator in
    /// fp16, so every update is rounded this way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundToHalf(Vector512<float> x)
    {
        // Adding C = 1.5 · 2^(e + 13), e the exponent of x (at least fp16's smallest normal one, -14), puts fp16's last
        // place at float's last place of the sum, so the addition rounds x to fp16 precision (to nearest, ties to even:
        // C is an even multiple of that place) and subtracting C again is exact. Overflow past 65504 rounds to
        // infinity; a zero keeps its sign. Flash attention rounds its accumulator this way after every key, one
        // dependent chain per head, so its latency counts: about half that of the bit-by-bit form this replaced
        // (shift, mask, carry, tie and subnormal selects), which it equals for every non-NaN float (checked exhaustively).
        var bits = x.AsUInt32();
        var sign = bits & Vector512.Create(0x80000000u);
        var exponent = Vector512.Max(bits & Vector512.Create(0x7F800000u), Vector512.Create(0x38800000u));
        var c = ((exponent + Vector512.Create(13u << 23)) | Vector512.Create(0x00400000u)).AsSingle();
        var rounded = ((x + c) - c).AsUInt32() | sign;
        var infinity = sign | Vector512.Create(0x7F800000u);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512.Abs(x), Vector512.Create(65520f)), infinity.AsSingle(), rounded.AsSingle());
    }

    /// <summary>The scalar <see cref="RoundToHalf(Vector512{float})"/> (System.Half's conversions are software, and slow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToHalf(float x)
    {
        var bits = BitConverter.SingleToUInt32Bits(x);
        var sign = bits & 0x80000000u;
        var abs = bits & 0x7FFFFFFFu;
        uint result;
        if (abs >= 0x7F800000u)
        {
            result = abs;
        }
        else if (abs < 0x38800000u)
        {
            result = BitConverter.SingleToUInt32Bits((BitConverter.UInt32BitsToSingle(abs) + 0.5f) - 0.5f);
        }
        else
        {
            result = (abs + 0xFFFu + ((abs >> 13) & 1u)) & 0xFFFFE000u;
            if (result >= 0x47800000u)
            {
                result = 0x7F800000u;
            }
        }

        return BitConverter.UInt32BitsToSingle(result | sign);
    }

    /// <summary>
    /// x * 2^n for integral n in [-192, 192] with one rounding (AVX-512's vscalefps). Without AVX-512 the power is
    /// applied in two exact halves; only results in the subnormal range could differ, and ggml replaces |n| &gt; 192
    /// anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaleByPowerOfTwo(Vector512<float> x, Vector512<float> n)
    {
        if (Avx512F.IsSupported)
        {
            return Avx512F.Scale(x, n);
        }

        var ni = Vector512.ConvertToInt32(Vector512.Clamp(n, Vector512.Create(-252f), Vector512.Create(252f)));
        var half = ni >> 1;
        var rest = ni - half;
        var p1 = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var p2 = Vector512.ShiftLeft(rest + Vector512.Create(127), 23).AsSingle();
        return x * p1 * p2;
    }
}
