using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The form an activation row takes before it meets a weight row of a given type: ggml's "vec_dot_type". Rounding
/// activations exactly as llama.cpp does (fp16 for F16 weights, Q8_0 blocks for the 32-element quant types, Q8_1 for
/// those with a minimum, Q8_K super-blocks for the K-quants) is what makes the results llama.cpp's.
/// </summary>
internal enum ActivationKind
{
    F32,
    F16,
    BF16,
    Q8_0,
    Q8_1,
    Q8_K,

    /// <summary>
    /// Q8_K, plus a copy of the quants with the middle quarters of every 64 swapped (<see cref="Activations.QKPaired"/>),
    /// for the repacked Q4_K gemm: the same numbers, in the order its nibble pairs meet them.
    /// </summary>
    Q8_KPaired,
}

internal static class ActivationKinds
{
    public static ActivationKind For(GgmlType type) => type switch
    {
        GgmlType.F32 => ActivationKind.F32,
        GgmlType.F16 => ActivationKind.F16,
        GgmlType.BF16 => ActivationKind.BF16,
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 => ActivationKind.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => ActivationKind.Q8_1,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => ActivationKind.Q8_K,
        _ => throw new NotSupportedException($"Tensor type {type} is not supported for matrix multiplication."),
    };

    /// <summary>Elements per block the form needs the row length to be a multiple of.</summary>
    public static int BlockElements(ActivationKind kind) => kind switch
    {
        ActivationKind.Q8_0 or ActivationKind.Q8_1 => 32,
        ActivationKind.Q8_K or ActivationKind.Q8_KPaired => 256,
        _ => 1,
    };
}
