using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>
/// A 2-D weight tensor inside the mapped GGUF file: <see cref="Rows"/> rows of <see cref="Cols"/> elements
/// (ggml's ne[1] × ne[0]), with the dot kernel that matches its type.
/// </summary>
internal sealed unsafe class Matrix
{
    public Matrix(GgufFile file, GgufTensorInfo tensor, bool simd)
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
        Kind = ActivationKinds.For(Type);
        Kernel = DotKernels.Get(Type, simd);
        Kernel4 = DotKernels.Get4(Type, simd);
        if (Kind == ActivationKind.Q8 && Cols % 32 != 0)
        {
            throw new GgufFormatException($"GGUF file '{file.Path}': quantized tensor '{Name}' has rows of {Cols}, not a multiple of 32.") { FilePath = file.Path };
        }
    }

    /// <summary>Weight types with dequantization and dot kernels.</summary>
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

    public DotKernel Kernel { get; }

    /// <summary>Four activation rows at once; the function is null for types without one.</summary>
    public DotKernel4 Kernel4 { get; }

    public byte* Row(int r) => Data + (r * RowBytes);

    /// <summary>Dequantizes row <paramref name="r"/> into <paramref name="dst"/> (the embedding lookup).</summary>
    public void DequantizeRow(int r, float* dst) => Dequantizer.Row(Type, Row(r), dst, Cols);
}
