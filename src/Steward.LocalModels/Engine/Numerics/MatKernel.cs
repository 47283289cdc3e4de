using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The ggml matrix product a row belongs to, which decides the order of its floating-point operations: a product
/// over one activation row goes through <c>ggml_vec_dot_*</c>; over two or more through llamafile's tinyBLAS where it
/// has a kernel for the type (for F32/F16 weights that sums in another order); repacked Q4_K matrices run rows in
/// groups of four through their gemm kernel and the remainder through gemv, which accumulate at different
/// granularities. <see cref="Rows"/> is the number of activation rows of the ggml operation, <see cref="FirstRow"/>
/// the index in it of the activation buffer's row 0.
/// </summary>
internal readonly record struct MatMulOp(int Rows, int FirstRow)
{
    /// <summary>A product over a single activation row (generation, or the output token of a prompt).</summary>
    public static MatMulOp Gemv { get; } = new(1, 0);

    /// <summary>tinyBLAS rather than vec_dot.</summary>
    public bool Batched => Rows >= 2;

    /// <summary>Whether buffer row <paramref name="b"/> falls in the groups of four a repacked gemm handles.</summary>
    public bool InGemmGroup(int b) => FirstRow + b < Rows - (Rows % 4);
}

/// <summary>
/// Dot products of weight rows (in their ggml layout) with prepared activation rows, reproducing llama.cpp's
/// arithmetic for the weight type. One instance per type, stateless and thread-safe.
/// </summary>
internal abstract unsafe class MatKernel
{
    /// <summary>Activation form the weights meet (ggml's vec_dot_type).</summary>
    public abstract ActivationKind Kind { get; }

    /// <summary>
    /// y[b * yStride + r] = W[r] · X[b] for rows r in [r0, r1) and activation rows b in [b0, b0 + count).
    /// <paramref name="op"/> selects the summation order where ggml's product kernels differ.
    /// </summary>
    public abstract void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op);

    /// <summary>
    /// The kernel for <paramref name="type"/>. <paramref name="repacked"/>: llama.cpp's CPU backend repacks Q4_0 and
    /// Q4_K matrices whose row count is a multiple of 8 (all but the token embedding) into interleaved blocks whose
    /// kernels sum each block's integers whole and accumulate one float per row, not eight lanes.
    /// </summary>
    public static MatKernel For(GgmlType type, bool simd, bool repacked = false) => type switch
    {
        GgmlType.Q4_0 when repacked => simd && Q8Kernels.Supported ? Q8Kernels.Q4_0Repacked : Q8Kernels.Q4_0RepackedPortable,
        GgmlType.Q4_K when repacked => simd ? Q4KRepackedKernel.Simd : Q4KRepackedKernel.Portable,
        GgmlType.F32 => FloatKernels.F32,
        GgmlType.F16 => FloatKernels.F16,
        GgmlType.BF16 => FloatKernels.Bf16,
        GgmlType.Q8_0 => simd && Q8Kernels.Supported ? Q8Kernels.Q8_0 : Q8Kernels.Q8_0Portable,
        GgmlType.Q4_0 => simd && Q8Kernels.Supported ? Q8Kernels.Q4_0 : Q8Kernels.Q4_0Portable,
        GgmlType.Q5_0 => simd && Q8Kernels.Supported ? Q8Kernels.Q5_0 : Q8Kernels.Q5_0Portable,
        GgmlType.Q4_1 => simd && Q8Kernels.Supported ? Q8Kernels.Q4_1 : Q8Kernels.Q4_1Portable,
        GgmlType.Q5_1 => simd && Q8Kernels.Supported ? Q8Kernels.Q5_1 : Q8Kernels.Q5_1Portable,
        GgmlType.Q4_K => simd && KQuantKernels.Supported ? KQuantKernels.Q4K : KQuantKernels.Q4KPortable,
        GgmlType.Q5_K => simd && KQuantKernels.Supported ? KQuantKernels.Q5K : KQuantKernels.Q5KPortable,
        GgmlType.Q6_K => simd && KQuantKernels.Supported ? Q6KKernel.Instance : KQuantKernels.Q6KPortable,
        _ => throw new NotSupportedException($"No matrix kernel for tensor type {type}."),
    };
}
