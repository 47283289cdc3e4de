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
/// row, its Q8 quants, the same quants plus 128 as unsigned bytes, the Q8 scales, the Q8 per-16 sums, the row
/// length, the distance between activation rows in elements, and where to write the four results.
/// </summary>
internal unsafe struct DotKernel4
{
    public delegate*<byte*, float*, sbyte*, byte*, float*, short*, int, int, float*, void> Fn;
}

/// <summary>
/// Chooses SIMD (AVX2/FMA, AVX-VNNI when present) or scalar dot kernels per tensor type. Quantized weights meet
/// Q8-quantized activations in integer arithmetic, as in llama.cpp: the weight block is unpacked to bytes, multiplied
/// with the int8 activations by maddubs/dpbusd, and scaled once per block.
/// </summary>
internal static unsafe partial class DotKernels
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
            else if (type == GgmlType.Q4_0)
            {
                k.Fn = &SimdQ4_0x4;
            }
            else if (type == GgmlType.Q4_K)
            {
                k.Fn = &SimdQ4Kx4;
            }
            else if (type == GgmlType.Q6_K)
            {
                k.Fn = &SimdQ6Kx4;
            }
        }

        return k;
    }

    private static float H(byte* p) => Fp16.ToSingle(p);
}
