namespace Steward.LocalModels.Gguf;

/// <summary>
/// One tensor's header. <see cref="Dimensions"/> are in ggml order: element 0 (ne[0]) is the contiguous row
/// length, so a matrix stored as <c>[cols, rows]</c> has <c>rows</c> rows of <c>cols</c> elements.
/// <see cref="Offset"/> is absolute in the file.
/// </summary>
internal sealed record GgufTensorInfo(string Name, ulong[] Dimensions, GgmlType Type, long Offset, long ByteLength)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dimensions)
            {
                n *= (long)d;
            }

            return n;
        }
    }

    /// <summary>ne[0]: the number of elements in one contiguous row.</summary>
    public int RowLength => (int)Dimensions[0];

    /// <summary>The number of rows (product of all dimensions after the first).</summary>
    public int RowCount => (int)(ElementCount / (long)Dimensions[0]);
}
