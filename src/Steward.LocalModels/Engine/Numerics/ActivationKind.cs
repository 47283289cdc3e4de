using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The form an activation row must take before it meets a weight row of a given type: ggml's "vec_dot_type".
/// Rounding activations the way llama.cpp does (to fp16 for F16 weights, Q8 blocks for quantized weights)
/// keeps greedy outputs identical to llama.cpp's.
/// </summary>
internal enum ActivationKind
{
    F32,
    F16,
    BF16,
    Q8,
}

internal static class ActivationKinds
{
    public static ActivationKind For(GgmlType type) => type switch
    {
        GgmlType.F32 => ActivationKind.F32,
        GgmlType.F16 => ActivationKind.F16,
        GgmlType.BF16 => ActivationKind.BF16,
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
            or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => ActivationKind.Q8,
        _ => throw new NotSupportedException($"Tensor type {type} is not supported for matrix multiplication."),
    };
}
