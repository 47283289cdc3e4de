using System.Buffers.Binary;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Plain scalar reference quantizers producing ggml's exact block layouts. They follow ggml's reference
/// formulas for the 32-element types; the K-quant scale search is simpler than ggml's (no iterative refinement):
/// the layout is what matters for reading models, and the tests only need valid blocks.
/// </summary>
internal static class Quantizer
{
    /// <summary>Quantizes row-major <paramref name="values"/> (rows of <paramref name="rowLength"/>) into <paramref name="type"/>.</summary>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> values, int rowLength)
    {
        if (rowLength <= 0 || values.Length % rowLength != 0)
        {
            throw new ArgumentException($"{values.Length} values are not a whole number of {rowLength}-element rows.", nameof(rowLength));
        }

        var rows = values.Length / rowLength;
        var rowBytes = (int)GgmlTypeInfo.RowBytes(type, rowLength);
        var result = new byte[(long)rowBytes * rows];
        for (var r = 0; r < rows; r++)
        {
            QuantizeRow(type, values.Slice(r * rowLength, rowLength), result.AsSpan(r * rowBytes, rowBytes));
        }

        return result;
    }

    public static void QuantizeRow(GgmlType type, ReadOnlySpan<float> x, Span<byte> dst)
    {
        var bn = GgmlTypeInfo.BlockElements(type);
        var bb = GgmlTypeInfo.BlockBytes(type);
        for (int i = 0, o = 0; i < x.Length; i += bn, o += bb)
        {
            var src = x.Slice(i, bn);
            var block = dst.Slice(o, bb);
            switch (type)
            {
                case GgmlType.F32: BinaryPrimitives.WriteSingleLittleEndian(block, src[0]); break;
                case GgmlType.F16: BinaryPrimitives.WriteHalfLittleEndian(block, (Half)src[0]); break;
                case GgmlType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(block, ToBf16(src[0])); break;
                case GgmlType.Q8_0: Q8_0(src, block); break;
                case GgmlType.Q4_0: Q4_0(src, block); break;
                case GgmlType.Q4_1: Q4_1(src, block); break;
                case GgmlType.Q5_0: Q5_0(src, block); break;
                case GgmlType.Q5_1: Q5_1(src, block); break;
                case GgmlType.Q4_K: Q4K(src, block, bits: 4); break;
                case GgmlType.Q5_K: Q4K(src, block, bits: 5); break;
                case GgmlType.Q6_K: Q6K(src, block); break;
                default: throw new NotSupportedException($"Quantizing to {type} is not supported.");
            }
        }
    }

    /// <summary>ggml's fp32 → bf16: round to nearest even, NaN kept quiet.</summary>
    public static ushort ToBf16(float f)
    {
        var u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000)
        {
            return (ushort)((u >> 16) | 64);
        }

        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    private static void WriteHalf(Span<byte> b, float v) => BinaryPrimitives.WriteHalfLittleEndian(b, (Half)v);

    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> b)
    {
        var amax = 0f;
        foreach (var v in x)
        {
            amax = MathF.Max(amax, MathF.Abs(v));
        }

        var d = amax / 127f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(b, d);
        for (var j = 0; j < 32; j++)
        {
            b[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id);
        }
    }

    private static (float Max, float AbsMax) SignedAbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
        {
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }

        return (max, amax);
    }

    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> b)
    {
        var (max, _) = SignedAbsMax(x);
        var d = max / -8f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(b, d);
        for (var j = 0; j < 16; j++)
        {
            var x0 = Math.Min(15, (int)((x[j] * id) + 8.5f));
            var x1 = Math.Min(15, (int)((x[j + 16] * id) + 8.5f));
            b[2 + j] = (byte)(x0 | (x1 << 4));
        }
    }

    private static void Q4_1(ReadOnlySpan<float> x, Span<byte> b)
    {
        float min = float.MaxValue, max = float.MinValue;
        foreach (var v in x)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }

        var d = (max - min) / 15f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(b, d);
        WriteHalf(b[2..], min);
        for (var j = 0; j < 16; j++)
        {
            var x0 = Math.Min(15, (int)(((x[j] - min) * id) + 0.5f));
            var x1 = Math.Min(15, (int)(((x[j + 16] - min) * id) + 0.5f));
            b[4 + j] = (byte)(x0 | (x1 << 4));
        }
    }

    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> b)
    {
        var (max, _) = SignedAbsMax(x);
        var d = max / -16f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(b, d);
        uint qh = 0;
        for (var j = 0; j < 16; j++)
        {
            var x0 = Math.Min(31, (int)((x[j] * id) + 16.5f));
            var x1 = Math.Min(31, (int)((x[j + 16] * id) + 16.5f));
            b[6 + j] = (byte)((x0 & 15) | ((x1 & 15) << 4));
            qh |= (uint)((x0 >> 4) & 1) << j;
            qh |= (uint)((x1 >> 4) & 1) << (j + 16);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(b[2..], qh);
    }

    private static void Q5_1(ReadOnlySpan<float> x, Span<byte> b)
    {
        float min = float.MaxValue, max = float.MinValue;
        foreach (var v in x)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }

        var d = (max - min) / 31f;
        var id = d != 0 ? 1f / d : 0f;
        WriteHalf(b, d);
        WriteHalf(b[2..], min);
        uint qh = 0;
        for (var j = 0; j < 16; j++)
        {
            var x0 = Math.Min(31, (int)(((x[j] - min) * id) + 0.5f));
            var x1 = Math.Min(31, (int)(((x[j + 16] - min) * id) + 0.5f));
            b[8 + j] = (byte)((x0 & 15) | ((x1 & 15) << 4));
            qh |= (uint)((x0 >> 4) & 1) << j;
            qh |= (uint)((x1 >> 4) & 1) << (j + 16);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], qh);
    }

    /// <summary>Q4_K (bits 4) and Q5_K (bits 5): 8 sub-blocks of 32, each with a 6-bit scale and 6-bit min.</summary>
    private static void Q4K(ReadOnlySpan<float> x, Span<byte> b, int bits)
    {
        var levels = (1 << bits) - 1;
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        for (var j = 0; j < 8; j++)
        {
            var sub = x.Slice(j * 32, 32);
            float min = float.MaxValue, max = float.MinValue;
            foreach (var v in sub)
            {
                min = MathF.Min(min, v);
                max = MathF.Max(max, v);
            }

            min = MathF.Min(min, 0); // ggml stores -min as a non-negative offset
            scales[j] = (max - min) / levels;
            mins[j] = -min;
        }

        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < 8; j++)
        {
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }

        var d = maxScale / 63f;
        var dmin = maxMin / 63f;
        WriteHalf(b, d);
        WriteHalf(b[2..], dmin);
        d = (float)(Half)d;
        dmin = (float)(Half)dmin;
        Span<byte> ls = stackalloc byte[8];
        Span<byte> lm = stackalloc byte[8];
        for (var j = 0; j < 8; j++)
        {
            ls[j] = (byte)Math.Clamp((int)MathF.Round(d > 0 ? scales[j] / d : 0), 0, 63);
            lm[j] = (byte)Math.Clamp((int)MathF.Round(dmin > 0 ? mins[j] / dmin : 0), 0, 63);
        }

        var sc = b.Slice(4, 12);
        for (var j = 0; j < 8; j++)
        {
            if (j < 4)
            {
                sc[j] = ls[j];
                sc[j + 4] = lm[j];
            }
            else
            {
                sc[j + 4] = (byte)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                sc[j - 4] |= (byte)((ls[j] >> 4) << 6);
                sc[j] |= (byte)((lm[j] >> 4) << 6);
            }
        }

        Span<byte> q = stackalloc byte[256];
        for (var j = 0; j < 8; j++)
        {
            var scale = d * ls[j];
            var offset = dmin * lm[j];
            for (var l = 0; l < 32; l++)
            {
                var v = scale > 0 ? (int)MathF.Round((x[(j * 32) + l] + offset) / scale) : 0;
                q[(j * 32) + l] = (byte)Math.Clamp(v, 0, levels);
            }
        }

        if (bits == 4)
        {
            var qs = b.Slice(16, 128);
            for (var c = 0; c < 4; c++)
            {
                for (var l = 0; l < 32; l++)
                {
                    qs[(c * 32) + l] = (byte)(q[(c * 64) + l] | (q[(c * 64) + 32 + l] << 4));
                }
            }
        }
        else
        {
            var qh = b.Slice(16, 32);
            var qs = b.Slice(48, 128);
            qh.Clear();
            for (var c = 0; c < 4; c++)
            {
                for (var l = 0; l < 32; l++)
                {
                    int lo = q[(c * 64) + l], hi = q[(c * 64) + 32 + l];
                    qs[(c * 32) + l] = (byte)((lo & 15) | ((hi & 15) << 4));
                    if (lo > 15)
                    {
                        qh[l] |= (byte)(1 << (2 * c));
                    }

                    if (hi > 15)
                    {
                        qh[l] |= (byte)(2 << (2 * c));
                    }
                }
            }
        }
    }

    /// <summary>Q6_K: 16 sub-blocks of 16 with int8 scales, 6-bit quants offset by 32.</summary>
    private static void Q6K(ReadOnlySpan<float> x, Span<byte> b)
    {
        Span<float> scales = stackalloc float[16];
        var maxAbsScale = 0f;
        var maxScale = 0f;
        for (var j = 0; j < 16; j++)
        {
            var (max, _) = SignedAbsMax(x.Slice(j * 16, 16));
            scales[j] = max / -32f;
            if (MathF.Abs(scales[j]) > maxAbsScale)
            {
                maxAbsScale = MathF.Abs(scales[j]);
                maxScale = scales[j];
            }
        }

        var ql = b[..128];
        var qhs = b.Slice(128, 64);
        var sc = b.Slice(192, 16);
        ql.Clear();
        qhs.Clear();
        var iscale = maxScale != 0 ? -128f / maxScale : 0f;
        var d = maxScale != 0 ? 1f / iscale : 0f;
        WriteHalf(b[208..], d);
        d = (float)(Half)d;
        Span<byte> q = stackalloc byte[256];
        for (var j = 0; j < 16; j++)
        {
            var s = (sbyte)Math.Clamp((int)MathF.Round(iscale * scales[j]), -128, 127);
            sc[j] = (byte)s;
            var dj = d * s;
            for (var l = 0; l < 16; l++)
            {
                var v = dj != 0 ? (int)MathF.Round(x[(j * 16) + l] / dj) : 0;
                q[(j * 16) + l] = (byte)(Math.Clamp(v, -32, 31) + 32);
            }
        }

        for (var n = 0; n < 2; n++)
        {
            for (var l = 0; l < 32; l++)
            {
                var baseIdx = n * 128;
                int q1 = q[baseIdx + l], q2 = q[baseIdx + l + 32], q3 = q[baseIdx + l + 64], q4 = q[baseIdx + l + 96];
                ql[(n * 64) + l] = (byte)((q1 & 15) | ((q3 & 15) << 4));
                ql[(n * 64) + l + 32] = (byte)((q2 & 15) | ((q4 & 15) << 4));
                qhs[(n * 32) + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}
