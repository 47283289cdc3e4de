using System.Numerics.Tensors;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>Scalar dequantization of ggml blocks to float, following ggml's dequantize_row_* exactly.</summary>
internal static unsafe class Dequantizer
{
    public static void Row(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        var rowBytes = GgmlTypeInfo.RowBytes(type, dst.Length);
        if (src.Length < rowBytes)
        {
            throw new ArgumentException($"A {type} row of {dst.Length} elements needs {rowBytes} bytes, got {src.Length}.", nameof(src));
        }

        fixed (byte* s = src)
        fixed (float* d = dst)
        {
            Row(type, s, d, dst.Length);
        }
    }

    public static void Row(GgmlType type, byte* src, float* dst, int n)
    {
        switch (type)
        {
            case GgmlType.F32:
                new ReadOnlySpan<float>(src, n).CopyTo(new Span<float>(dst, n));
                return;
            case GgmlType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(src, n), new Span<float>(dst, n));
                return;
            case GgmlType.BF16:
                for (var i = 0; i < n; i++)
                {
                    dst[i] = Bf16(((ushort*)src)[i]);
                }

                return;
            default:
                break;
        }

        var bn = GgmlTypeInfo.BlockElements(type);
        var bb = GgmlTypeInfo.BlockBytes(type);
        for (var i = 0; i < n; i += bn, src += bb, dst += bn)
        {
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0(src, dst); break;
                case GgmlType.Q4_0: Q4_0(src, dst); break;
                case GgmlType.Q4_1: Q4_1(src, dst); break;
                case GgmlType.Q5_0: Q5_0(src, dst); break;
                case GgmlType.Q5_1: Q5_1(src, dst); break;
                case GgmlType.Q4_K: Q4K(src, dst); break;
                case GgmlType.Q5_K: Q5K(src, dst); break;
                case GgmlType.Q6_K: Q6K(src, dst); break;
                default: throw new NotSupportedException($"Dequantizing {type} is not supported.");
            }
        }
    }

    public static float H(byte* p) => (float)*(Half*)p;

    public static float Bf16(ushort v) => BitConverter.UInt32BitsToSingle((uint)v << 16);

    private static void Q8_0(byte* b, float* y)
    {
        var d = H(b);
        var qs = (sbyte*)(b + 2);
        for (var j = 0; j < 32; j++)
        {
            y[j] = qs[j] * d;
        }
    }

    private static void Q4_0(byte* b, float* y)
    {
        var d = H(b);
        var qs = b + 2;
        for (var j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    private static void Q4_1(byte* b, float* y)
    {
        float d = H(b), m = H(b + 2);
        var qs = b + 4;
        for (var j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) * d) + m;
            y[j + 16] = ((qs[j] >> 4) * d) + m;
        }
    }

    private static void Q5_0(byte* b, float* y)
    {
        var d = H(b);
        var qh = *(uint*)(b + 2);
        var qs = b + 6;
        for (var j = 0; j < 16; j++)
        {
            var xh0 = (int)(((qh >> j) << 4) & 0x10);
            var xh1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = (((qs[j] & 0x0F) | xh0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | xh1) - 16) * d;
        }
    }

    private static void Q5_1(byte* b, float* y)
    {
        float d = H(b), m = H(b + 2);
        var qh = *(uint*)(b + 4);
        var qs = b + 8;
        for (var j = 0; j < 16; j++)
        {
            var xh0 = (int)(((qh >> j) << 4) & 0x10);
            var xh1 = (int)((qh >> (j + 12)) & 0x10);
            y[j] = (((qs[j] & 0x0F) | xh0) * d) + m;
            y[j + 16] = (((qs[j] >> 4) | xh1) * d) + m;
        }
    }

    /// <summary>ggml's get_scale_min_k4: unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K super-block.</summary>
    public static void ScaleMinK4(int j, byte* q, out int sc, out int m)
    {
        if (j < 4)
        {
            sc = q[j] & 63;
            m = q[j + 4] & 63;
        }
        else
        {
            sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    private static void Q4K(byte* b, float* y)
    {
        float d = H(b), min = H(b + 2);
        var scales = b + 4;
        var q = b + 16;
        var isub = 0;
        for (var j = 0; j < 256; j += 64)
        {
            ScaleMinK4(isub, scales, out var sc, out var m);
            float d1 = d * sc, m1 = min * m;
            ScaleMinK4(isub + 1, scales, out sc, out m);
            float d2 = d * sc, m2 = min * m;
            for (var l = 0; l < 32; l++)
            {
                *y++ = (d1 * (q[l] & 0xF)) - m1;
            }

            for (var l = 0; l < 32; l++)
            {
                *y++ = (d2 * (q[l] >> 4)) - m2;
            }

            q += 32;
            isub += 2;
        }
    }

    private static void Q5K(byte* b, float* y)
    {
        float d = H(b), min = H(b + 2);
        var scales = b + 4;
        var qh = b + 16;
        var ql = b + 48;
        var isub = 0;
        byte u1 = 1, u2 = 2;
        for (var j = 0; j < 256; j += 64)
        {
            ScaleMinK4(isub, scales, out var sc, out var m);
            float d1 = d * sc, m1 = min * m;
            ScaleMinK4(isub + 1, scales, out sc, out m);
            float d2 = d * sc, m2 = min * m;
            for (var l = 0; l < 32; l++)
            {
                *y++ = (d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0))) - m1;
            }

            for (var l = 0; l < 32; l++)
            {
                *y++ = (d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0))) - m2;
            }

            ql += 32;
            isub += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }

    private static void Q6K(byte* b, float* y)
    {
        var ql = b;
        var qh = b + 128;
        var sc = (sbyte*)(b + 192);
        var d = H(b + 208);
        for (var n = 0; n < 256; n += 128)
        {
            for (var l = 0; l < 32; l++)
            {
                var s = l / 16;
                var q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                var q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                var q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                var q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }

            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
