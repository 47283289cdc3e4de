using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Q4_K, Q5_K and Q6_K against Q8_K activations, as ggml's AVX2 vec_dot kernels compute them: per 256-element
/// super-block, eight int32 lanes (each lane summing, over the block's 32-element chunks, four adjacent products
/// times their sub-block scale) converted to float and accumulated with one FMA by d_weight × d_activation; the
/// minimum (Q4_K/Q5_K) or the +32 offset (Q6_K) goes through the activations' per-16 sums exactly as ggml does it.
/// The portable variants build the same lanes element by element.
/// </summary>
internal static unsafe class KQuantKernels
{
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    public static readonly MatKernel Q4K = new Kernel(Format.Q4K, simd: true);
    public static readonly MatKernel Q5K = new Kernel(Format.Q5K, simd: true);
    public static readonly MatKernel Q6K = new Kernel(Format.Q6K, simd: true);
    public static readonly MatKernel Q4KPortable = new Kernel(Format.Q4K, simd: false);
    public static readonly MatKernel Q5KPortable = new Kernel(Format.Q5K, simd: false);
    public static readonly MatKernel Q6KPortable = new Kernel(Format.Q6K, simd: false);

    private enum Format
    {
        Q4K,
        Q5K,
        Q6K,
    }

    private static int BlockBytes(Format f) => f switch { Format.Q4K => 144, Format.Q5K => 176, _ => 210 };

    /// <summary>One super-block: the int32 lanes (scaled products) and the integer minimum/offset term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LanesSimd(Format f, byte* w, sbyte* y, short* bsums, out Vector128<int> mins)
    {
        var m4 = Vector256.Create((byte)0xF);
        var sumi = Vector256<int>.Zero;
        mins = default;
        if (f == Format.Q6K)
        {
            var sc8 = Sse2.LoadVector128((sbyte*)(w + 192));
            var scales16 = Avx2.ConvertToVector256Int16(sc8);
            var sub = Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(bsums), scales16), 5);
            for (var j = 0; j < 2; j++)
            {
                var ql1 = Avx.LoadVector256(w + (64 * j));
                var ql2 = Avx.LoadVector256(w + (64 * j) + 32);
                var qh = Avx.LoadVector256(w + 128 + (32 * j));
                var q0 = (ql1 & m4) | Avx2.ShiftLeftLogical((qh & Vector256.Create((byte)3)).AsUInt16(), 4).AsByte();
                var q1 = (ql2 & m4) | Avx2.ShiftLeftLogical((qh & Vector256.Create((byte)12)).AsUInt16(), 2).AsByte();
                var q2 = (Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & m4) | (qh & Vector256.Create((byte)48));
                var q3 = (Avx2.ShiftRightLogical(ql2.AsUInt16(), 4).AsByte() & m4) | Avx2.ShiftRightLogical((qh & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte();
                var yj = y + (128 * j);
                var s = (sbyte*)(w + 192) + (8 * j);
                var p0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256(yj)), Scale16(s[0], s[1]));
                var p1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256(yj + 32)), Scale16(s[2], s[3]));
                var p2 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256(yj + 64)), Scale16(s[4], s[5]));
                var p3 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256(yj + 96)), Scale16(s[6], s[7]));
                sumi += p0 + p1;
                sumi += p2 + p3;
            }

            return sumi - sub;
        }

        var sc = stackalloc int[8];
        var mn = stackalloc int[8];
        for (var j = 0; j < 8; j++)
        {
            Dequantizer.ScaleMinK4(j, w + 4, out sc[j], out mn[j]);
        }

        mins = MinProducts(mn, bsums);
        var five = f == Format.Q5K;
        var qs = w + (five ? 48 : 16);
        var hbits = five ? Avx.LoadVector256(w + 16) : default;
        for (var j = 0; j < 4; j++)
        {
            var raw = Avx.LoadVector256(qs + (32 * j));
            var lo = raw & m4;
            var hi = Avx2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & m4;
            if (five)
            {
                var m1 = Vector256.Create((byte)(1 << (2 * j)));
                var m2 = Vector256.Create((byte)(2 << (2 * j)));
                lo += Avx2.CompareEqual(hbits & m1, m1) & Vector256.Create((byte)0x10);
                hi += Avx2.CompareEqual(hbits & m2, m2) & Vector256.Create((byte)0x10);
            }

            var pl = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(y + (64 * j))), Vector256.Create((short)sc[2 * j]));
            var ph = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(y + (64 * j) + 32)), Vector256.Create((short)sc[(2 * j) + 1]));
            sumi += pl + ph;
        }

        return sumi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Scale16(sbyte a, sbyte b) => Vector256.Create(Vector128.Create((short)a), Vector128.Create((short)b));

    /// <summary>ggml's madd(mins, hadd(bsums)): four lanes of m[2l]·s[2l] + m[2l+1]·s[2l+1], s being per-32 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector128<int> MinProducts(int* mn, short* bsums)
    {
        var prod = stackalloc int[4];
        for (var l = 0; l < 4; l++)
        {
            var s0 = (short)(bsums[4 * l] + bsums[(4 * l) + 1]);
            var s1 = (short)(bsums[(4 * l) + 2] + bsums[(4 * l) + 3]);
            prod[l] = (mn[2 * l] * s0) + (mn[(2 * l) + 1] * s1);
        }

        return Vector128.Load(prod);
    }

    /// <summary>The same lanes element by element: lane l sums elements 4l..4l+3 of every 32-element chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<int> LanesPortable(Format f, byte* w, sbyte* y, short* bsums, out Vector128<int> mins)
    {
        Span<int> q = stackalloc int[256];
        Span<int> scale = stackalloc int[256];
        mins = default;
        var lanes = stackalloc int[8];
        if (f == Format.Q6K)
        {
            var sc = (sbyte*)(w + 192);
            for (var half = 0; half < 2; half++)
            {
                var ql = w + (half * 64);
                var qh = w + 128 + (half * 32);
                for (var l = 0; l < 32; l++)
                {
                    var o = half * 128;
                    q[o + l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                    q[o + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                    q[o + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    q[o + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }

            for (var e = 0; e < 256; e++)
            {
                scale[e] = sc[e / 16];
            }

            for (var l = 0; l < 8; l++)
            {
                lanes[l] = -32 * ((bsums[2 * l] * sc[2 * l]) + (bsums[(2 * l) + 1] * sc[(2 * l) + 1]));
            }
        }
        else
        {
            var mn = stackalloc int[8];
            var scs = stackalloc int[8];
            for (var j = 0; j < 8; j++)
            {
                Dequantizer.ScaleMinK4(j, w + 4, out scs[j], out mn[j]);
            }

            mins = MinProducts(mn, bsums);
            var five = f == Format.Q5K;
            var qs = w + (five ? 48 : 16);
            for (var j = 0; j < 4; j++)
            {
                for (var l = 0; l < 32; l++)
                {
                    var lo = qs[(32 * j) + l] & 0xF;
                    var hi = qs[(32 * j) + l] >> 4;
                    if (five)
                    {
                        lo |= ((w[16 + l] >> (2 * j)) & 1) << 4;
                        hi |= ((w[16 + l] >> ((2 * j) + 1)) & 1) << 4;
                    }

                    q[(64 * j) + l] = lo;
                    q[(64 * j) + 32 + l] = hi;
                }
            }

            for (var e = 0; e < 256; e++)
            {
                scale[e] = scs[e / 32];
            }

            for (var l = 0; l < 8; l++)
            {
                lanes[l] = 0;
            }
        }

        for (var chunk = 0; chunk < 8; chunk++)
        {
            for (var l = 0; l < 8; l++)
            {
                var sum = 0;
                for (var e = (chunk * 32) + (4 * l); e < (chunk * 32) + (4 * l) + 4; e++)
                {
                    sum += scale[e] * q[e] * y[e];
                }

                lanes[l] += sum;
            }
        }

        return Vector256.Load(lanes);
    }

    private sealed class Kernel(Format format, bool simd) : MatKernel
    {
        public override ActivationKind Kind => ActivationKind.Q8_K;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            var nb = n / 256;
            var bb = BlockBytes(format);
            for (var r = r0; r < r1; r++)
            {
                var wr = w.Row(r);
                for (var b = b0; b < b0 + count; b++)
                {
                    var q = x.QK + ((long)b * n);
                    var dk = x.DK + ((long)b * nb);
                    var bsums = x.BSums + ((long)b * n / 16);
                    y[((long)b * yStride) + r] = Dot(wr, q, dk, bsums, nb, bb);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private float Dot(byte* w, sbyte* q, float* dk, short* bsums, int nb, int bb)
        {
            var f16 = Fp16.Table;
            Vector256<float> acc = default;
            Vector128<float> accm = default;
            var summs = 0f;
            for (var i = 0; i < nb; i++, w += bb, q += 256, bsums += 16)
            {
                var sumi = simd ? LanesSimd(format, w, q, bsums, out var mins) : LanesPortable(format, w, q, bsums, out mins);
                if (format == Format.Q6K)
                {
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(dk[i] * f16[*(ushort*)(w + 208)]), Vector256.ConvertToSingle(sumi), acc);
                    continue;
                }

                var d = dk[i] * f16[*(ushort*)(w)];
                var dmin = -dk[i] * f16[*(ushort*)(w + 2)];
                if (format == Format.Q4K)
                {
                    accm = Vector128.FusedMultiplyAdd(Vector128.Create(dmin), Vector128.ConvertToSingle(mins), accm);
                }
                else
                {
                    var total = (mins.GetElement(0) + mins.GetElement(1)) + (mins.GetElement(2) + mins.GetElement(3));
                    summs = MathF.FusedMultiplyAdd(dmin, total, summs);
                }

                acc = Vector256.FusedMultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(sumi), acc);
            }

            return format switch
            {
                Format.Q4K => GgmlFloat.Hsum8(acc) + GgmlFloat.Hsum4(accm),
                Format.Q5K => GgmlFloat.Hsum8(acc) + summs,
                _ => GgmlFloat.Hsum8(acc),
            };
        }
    }
}
