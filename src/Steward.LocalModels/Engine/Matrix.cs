using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>
/// A 2-D weight tensor inside the mapped GGUF file: <see cref="Rows"/> rows of <see cref="Cols"/> elements
/// (ggml's ne[1] × ne[0]), with the kernel that multiplies it the way llama.cpp does for its type.
/// </summary>
internal sealed unsafe class Matrix
{
    /// <summary>Wraps <paramref name="tensor"/>; <paramref name="simd"/> selects the AVX2 integer kernels; <paramref name="repackable"/> is false for the token embedding, which llama.cpp keeps in its plain layout (see <see cref="MatKernel.For"/>).</summary>
    public Matrix(GgufFile file, GgufTensorInfo tensor, bool simd, bool repackable = true)
    {
        if (tensor.Dimensions.Length > 2 && tensor.Dimensions.Skip(2).Any(d => d != 1))
        {
            throw new GgufFormatException($"GGUF file '{file.Path}': tensor '{tensor.Name}' has {tensor.Dimensions.Length} dimensions; a matrix was expected.") { FilePath = file.Path };
        }

        if (!SupportedTypes.Contains(tensor.Type))
        {
            throw new GgufFormatException($"GGUF file '{file.Path}': tensor '{tensor.Name}' has type {tensor.Type}, which the engine does not support (supported: {string.Join(", ", SupportedTypes)}).") { FilePath = file.Path };
        }

        Name = tensor.Name;
        Type = tensor.Type;
        Data = file.GetTensorPointer(tensor);
        Cols = tensor.RowLength;
        Rows = tensor.RowCount;
        RowBytes = GgmlTypeInfo.RowBytes(Type, Cols);
        Kernel = MatKernel.For(Type, simd, repacked: repackable && Rows % 8 == 0);
        Kind = Kernel.Kind;
        if (Cols % ActivationKinds.BlockElements(Kind) != 0)
        {
            throw new GgufFormatException($"GGUF file '{file.Path}': tensor '{Name}' of type {Type} has rows of {Cols}, not a multiple of {ActivationKinds.BlockElements(Kind)}.") { FilePath = file.Path };
        }
    }

    /// <summary>Weight types with dequantization and matrix kernels.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes { get; } =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
        GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    public string Name { get; }

    public GgmlType Type { get; }

    public byte* Data { get; }

    public int Rows { get; }

    public int Cols { get; }

    public long RowBytes { get; }

    public ActivationKind Kind { get; }

    public MatKernel Kernel { get; }

    /// <summary>Bytes of weights one full product reads.</summary>
    public long Bytes => RowBytes * Rows;

    public byte* Row(int r) => Data + (r * RowBytes);

    /// <summary>Dequantizes row <paramref name="r"/> into <paramref name="dst"/> (the embedding lookup).</summary>
    public void DequantizeRow(int r, float* dst) => Dequantizer.Row(Type, Row(r), dst, Cols);
}
