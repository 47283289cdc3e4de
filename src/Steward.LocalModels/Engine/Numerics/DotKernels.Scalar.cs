namespace Steward.LocalModels.Engine.Numerics;

/// <summary>Scalar reference kernels: the fallback without AVX2, and what the SIMD kernels are tested against.</summary>
internal static unsafe partial class DotKernels
{
    private static float ScalarF32(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var f = (float*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += f[i] * x[i];
        }

        return (float)sum;
    }

    private static float ScalarF16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (ushort*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += Fp16.ToSingle(h[i]) * x[i];
        }

        return (float)sum;
    }

    private static float ScalarBf16(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var h = (ushort*)w;
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += Dequantizer.Bf16(h[i]) * x[i];
        }

        return (float)sum;
    }

    private static float ScalarQ8_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 34, q += 32)
        {
            var qs = (sbyte*)(w + 2);
            var isum = 0;
            for (var j = 0; j < 32; j++)
            {
                isum += qs[j] * q[j];
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ4_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 18, q += 32)
        {
            var qs = w + 2;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                isum += (((qs[j] & 0xF) - 8) * q[j]) + (((qs[j] >> 4) - 8) * q[j + 16]);
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ4_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 20, q += 32)
        {
            var qs = w + 4;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                isum += ((qs[j] & 0xF) * q[j]) + ((qs[j] >> 4) * q[j + 16]);
            }

            sum += (isum * (H(w) * d[b])) + (H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]));
        }

        return sum;
    }

    private static float ScalarQ5_0(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 22, q += 32)
        {
            var qh = *(uint*)(w + 2);
            var qs = w + 6;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                var x0 = ((qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10)) - 16;
                var x1 = ((qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - 16;
                isum += (x0 * q[j]) + (x1 * q[j + 16]);
            }

            sum += isum * (H(w) * d[b]);
        }

        return sum;
    }

    private static float ScalarQ5_1(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var b = 0; b < n / 32; b++, w += 24, q += 32)
        {
            var qh = *(uint*)(w + 4);
            var qs = w + 8;
            var isum = 0;
            for (var j = 0; j < 16; j++)
            {
                var x0 = (qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10);
                var x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
                isum += (x0 * q[j]) + (x1 * q[j + 16]);
            }

            sum += (isum * (H(w) * d[b])) + (H(w + 2) * d[b] * (s[2 * b] + s[(2 * b) + 1]));
        }

        return sum;
    }

    private static float ScalarQ4K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => ScalarQ45K(w, q, d, s, n, five: false);

    private static float ScalarQ5K(byte* w, float* x, sbyte* q, float* d, short* s, int n) => ScalarQ45K(w, q, d, s, n, five: true);

    private static float ScalarQ45K(byte* w, sbyte* q, float* d, short* s, int n, bool five)
    {
        var sum = 0f;
        var blockBytes = five ? 176 : 144;
        for (var k = 0; k < n / 256; k++, w += blockBytes)
        {
            float dall = H(w), dmin = H(w + 2);
            var scales = w + 4;
            var qh = w + 16;
            var qs = w + (five ? 48 : 16);
            for (var sub = 0; sub < 8; sub++)
            {
                Dequantizer.ScaleMinK4(sub, scales, out var sc, out var m);
                var chunk = sub / 2;
                var high = sub % 2 == 1;
                var isum = 0;
                var xq = q + (k * 256) + (sub * 32);
                for (var l = 0; l < 32; l++)
                {
                    var b = qs[(chunk * 32) + l];
                    var v = high ? b >> 4 : b & 0xF;
                    if (five && (qh[l] & (1 << sub)) != 0)
                    {
                        v += 16;
                    }

                    isum += v * xq[l];
                }

                var blk = (k * 8) + sub;
                var dx = d[blk];
                sum += (dall * sc * dx * isum) - (dmin * m * dx * (s[2 * blk] + s[(2 * blk) + 1]));
            }
        }

        return sum;
    }

    private static float ScalarQ6K(byte* w, float* x, sbyte* q, float* d, short* s, int n)
    {
        var sum = 0f;
        for (var k = 0; k < n / 256; k++, w += 210)
        {
            var dall = H(w + 208);
            for (var half = 0; half < 2; half++)
            {
                var ql = w + (half * 64);
                var qh = w + 128 + (half * 32);
                var sc = (sbyte*)(w + 192) + (half * 8);
                for (var g = 0; g < 4; g++)
                {
                    var off = (k * 256) + (half * 128) + (g * 32);
                    var xq = q + off;
                    var isum = 0;
                    for (var l = 0; l < 32; l++)
                    {
                        var lo = g is 0 or 2 ? ql[l] : ql[l + 32];
                        var nib = g < 2 ? lo & 0xF : lo >> 4;
                        var v = (nib | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                        isum += sc[(2 * g) + (l / 16)] * v * xq[l];
                    }

                    sum += dall * d[off / 32] * isum;
                }
            }
        }

        return sum;
    }
}
