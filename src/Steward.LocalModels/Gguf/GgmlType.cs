namespace Steward.LocalModels.Gguf;

/// <summary>ggml tensor element types, numbered exactly as in ggml.h (the numbers are what GGUF stores).</summary>
internal enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

/// <summary>Block geometry of each <see cref="GgmlType"/>: how many elements one block holds and its size in bytes.</summary>
internal static class GgmlTypeInfo
{
    /// <summary>Returns false for numbers ggml does not define or whose layout this reader does not know (the IQ families).</summary>
    public static bool TryGetBlock(GgmlType type, out int blockElements, out int blockBytes)
    {
        (blockElements, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.Q4_0 => (32, 18),
            GgmlType.Q4_1 => (32, 20),
            GgmlType.Q5_0 => (32, 22),
            GgmlType.Q5_1 => (32, 24),
            GgmlType.Q8_0 => (32, 34),
            GgmlType.Q8_1 => (32, 36),
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),
            GgmlType.Q8_K => (256, 292),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.F64 => (1, 8),
            _ => (0, 0),
        };
        return blockElements != 0;
    }

    public static int BlockElements(GgmlType type) =>
        TryGetBlock(type, out var n, out _) ? n : throw new NotSupportedException($"Tensor type {type} is not supported.");

    public static int BlockBytes(GgmlType type) =>
        TryGetBlock(type, out _, out var b) ? b : throw new NotSupportedException($"Tensor type {type} is not supported.");

    /// <summary>Bytes of one row of <paramref name="elements"/> elements; the row length must be a multiple of the block size.</summary>
    public static long RowBytes(GgmlType type, long elements)
    {
        var n = BlockElements(type);
        if (elements % n != 0)
        {
            throw new ArgumentException($"A {type} row of {elements} elements is not a whole number of {n}-element blocks.", nameof(elements));
        }

        return elements / n * BlockBytes(type);
    }
}
