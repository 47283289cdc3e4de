using System.Runtime.InteropServices;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// fp16 → fp32 through a 256 KiB lookup table, as ggml does: System.Half's software conversion is too slow for
/// the per-block scales read in every dot product. Kernels copy <see cref="Table"/> into a local before their loops:
/// code compiled with full optimisation up front cannot assume the class is initialised, and would check it (and
/// reload the pointer) on every block.
/// </summary>
internal static unsafe class Fp16
{
    private static readonly float* TablePtr = Build();

    /// <summary>The 65,536 floats, indexed by the fp16 bits.</summary>
    public static float* Table => TablePtr;

    public static float ToSingle(byte* p) => TablePtr[*(ushort*)p];

    public static float ToSingle(ushort bits) => TablePtr[bits];

    private static float* Build()
    {
        var t = (float*)NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (var i = 0; i < 65536; i++)
        {
            t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        }

        return t;
    }
}
