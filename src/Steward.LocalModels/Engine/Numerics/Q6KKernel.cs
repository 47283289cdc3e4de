using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Q6_K against Q8_K activations with AVX2, in ggml_vec_dot_q6_K_q8_K's order: per super-block eight int32 lanes
/// (quants 0..63 times activations, times their 16-element scale, minus 32 × scales × the activation sums),
/// converted and accumulated with one FMA, reduced by hsum_float_8 at the end. Prompt processing unpacks each half
/// super-block once for four activation rows; generation (and the output projection of most K-quant files) loads
/// each activation half once for four weight rows.
/// </summary>
internal sealed unsafe class Q6KKernel : MatKernel
{
    private const int BlockBytes = 210;

    public static readonly MatKernel Instance = new Q6KKernel();

    public override ActivationKind Kind => ActivationKind.Q8_K;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
    {
        var n = w.Cols;
        var end = b0 + count;
        if (count < 4 || !op.Batched)
        {
            // Generation (one token, or one of each of several sequences): each group of four weight rows meets every
            // activation row while it is in L1. The same arithmetic as the prompt path (ggml has one Q6_K vec_dot).
            var r = r0;
            for (; r + 4 <= r1; r += 4)
            {
                var b = b0;
                for (; b + 2 <= end; b += 2)
                {
                    FourRowsTwoActs(w, r, x, b, n, y + ((long)b * yStride) + r, yStride);
                }

                if (b < end)
                {
                    FourRows(w, r, x, b, n, y + ((long)b * yStride) + r);
                }
            }

            for (; r < r1; r++)
            {
                for (var b = b0; b < end; b++)
                {
                    OneRowFourActs(w.Row(r), x, b, 1, n, y + ((long)b * yStride) + r, yStride);
                }
            }

            return;
        }

        for (var r = r0; r < r1; r++)
        {
            for (var b = b0; b < end; b += 4)
            {
                OneRowFourActs(w.Row(r), x, b, Math.Min(4, end - b), n, y + ((long)b * yStride) + r, yStride);
            }
        }
    }

    /// <summary>Quants 0..63 of group g (0..3) of half j of a super-block, ggml's bit layout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Quants(byte* blk, int j, int g)
    {
        var m4 = Vector256.Create((byte)0xF);
        var ql = Avx.LoadVector256(blk + (64 * j) + (g % 2 == 0 ? 0 : 32));
        var qh = Avx.LoadVector256(blk + 128 + (32 * j));
        var low = g < 2 ? ql & m4 : Avx2.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & m4;
        var high = g switch
        {
            0 => Avx2.ShiftLeftLogical((qh & Vector256.Create((byte)3)).AsUInt16(), 4).AsByte(),
            1 => Avx2.ShiftLeftLogical((qh & Vector256.Create((byte)12)).AsUInt16(), 2).AsByte(),
            2 => qh & Vector256.Create((byte)48),
            _ => Avx2.ShiftRightLogical((qh & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte(),
        };
        return low | high;
    }

    /// <summary>The eight 16-element scales of half j of a super-block, widened to 16 bits, in both 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HalfScales(byte* blk, int j)
    {
        var s = Sse41.ConvertToVector128Int16((sbyte*)(blk + 192) + (8 * j));
        return Vector256.Create(s, s).AsByte();
    }

    /// <summary>
    /// The two 16-element scales of group g, each broadcast over its 128-bit lane, taken from <see cref="HalfScales"/> by
    /// one byte shuffle (building them from scalars costs five instructions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Scales(Vector256<byte> half, int g) =>
        Avx2.Shuffle(half, Vector256.Create(Vector128.Create((short)(0x0100 + (0x0404 * g))), Vector128.Create((short)(0x0302 + (0x0404 * g)))).AsByte()).AsInt16();

    /// <summary>32 × scales × the activation's per-16 sums, the offset ggml subtracts per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(byte* blk, short* bsums) =>
        Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(bsums), Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(blk + 192)))), 5);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Product(Vector256<byte> q, Vector256<short> scale, sbyte* y) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256(y)), scale);

    /// <summary>One weight row with one to four activation rows (results at y, y + yStride, ...).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRowFourActs(byte* wr, Activations x, int b, int acts, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q0p = x.QK + ((long)b * n);
        var bs0 = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var qs = n;
        var bss = n / 16;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var i = 0; i < nb; i++, wr += BlockBytes, q0p += 256, bs0 += 16)
        {
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (var j = 0; j < 2; j++)
            {
                var qa = Quants(wr, j, 0);
                var qb = Quants(wr, j, 1);
                var qc = Quants(wr, j, 2);
                var qd = Quants(wr, j, 3);
                var half = HalfScales(wr, j);
                var ca = Scales(half, 0);
                var cb = Scales(half, 1);
                var cc = Scales(half, 2);
                var cd = Scales(half, 3);
                var yj = q0p + (128 * j);
                s0 += Product(qa, ca, yj) + Product(qb, cb, yj + 32);
                s0 += Product(qc, cc, yj + 64) + Product(qd, cd, yj + 96);
                if (acts > 1)
                {
                    yj += qs;
                    s1 += Product(qa, ca, yj) + Product(qb, cb, yj + 32);
                    s1 += Product(qc, cc, yj + 64) + Product(qd, cd, yj + 96);
                }

                if (acts > 2)
                {
                    yj += qs;
                    s2 += Product(qa, ca, yj) + Product(qb, cb, yj + 32);
                    s2 += Product(qc, cc, yj + 64) + Product(qd, cd, yj + 96);
                }

                if (acts > 3)
                {
                    yj += qs;
                    s3 += Product(qa, ca, yj) + Product(qb, cb, yj + 32);
                    s3 += Product(qc, cc, yj + 64) + Product(qd, cd, yj + 96);
                }
            }

            var dw = f16[*(ushort*)(wr + 208)];
            a0 = Fma.MultiplyAdd(Vector256.Create(dk[i] * dw), Avx.ConvertToVector256Single(s0 - Offset(wr, bs0)), a0);
            if (acts > 1)
            {
                a1 = Fma.MultiplyAdd(Vector256.Create(dk[i + nb] * dw), Avx.ConvertToVector256Single(s1 - Offset(wr, bs0 + bss)), a1);
            }

            if (acts > 2)
            {
                a2 = Fma.MultiplyAdd(Vector256.Create(dk[i + (2 * nb)] * dw), Avx.ConvertToVector256Single(s2 - Offset(wr, bs0 + (2 * bss))), a2);
            }

            if (acts > 3)
            {
                a3 = Fma.MultiplyAdd(Vector256.Create(dk[i + (3 * nb)] * dw), Avx.ConvertToVector256Single(s3 - Offset(wr, bs0 + (3 * bss))), a3);
            }
        }

        y[0] = GgmlFloat.Hsum8(a0);
        if (acts > 1)
        {
            y[yStride] = GgmlFloat.Hsum8(a1);
        }

        if (acts > 2)
        {
            y[2 * yStride] = GgmlFloat.Hsum8(a2);
        }

        if (acts > 3)
        {
            y[3 * yStride] = GgmlFloat.Hsum8(a3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group(byte* w0, byte* w1, byte* w2, byte* w3, int j, int g, Vector256<sbyte> yv, Vector256<byte> h0, Vector256<byte> h1, Vector256<byte> h2, Vector256<byte> h3, ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
    {
        s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Quants(w0, j, g), yv), Scales(h0, g));
        s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Quants(w1, j, g), yv), Scales(h1, g));
        s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Quants(w2, j, g), yv), Scales(h2, g));
        s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Quants(w3, j, g), yv), Scales(h3, g));
    }

    /// <summary>Four weight rows with one activation row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRows(Matrix w, int r, Activations x, int b, int n, float* y)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var yq = x.QK + ((long)b * n);
        var bsums = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var i = 0; i < nb; i++, w0 += BlockBytes, yq += 256, bsums += 16)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchFourRows(w0, stride, BlockBytes);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (var j = 0; j < 2; j++)
            {
                var yj = yq + (128 * j);
                var h0 = HalfScales(w0, j);
                var h1 = HalfScales(w1, j);
                var h2 = HalfScales(w2, j);
                var h3 = HalfScales(w3, j);
                Group(w0, w1, w2, w3, j, 0, Avx.LoadVector256(yj), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3);
                Group(w0, w1, w2, w3, j, 1, Avx.LoadVector256(yj + 32), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3);
                Group(w0, w1, w2, w3, j, 2, Avx.LoadVector256(yj + 64), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3);
                Group(w0, w1, w2, w3, j, 3, Avx.LoadVector256(yj + 96), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3);
            }

            var d = dk[i];
            a0 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(s0 - Offset(w0, bsums)), a0);
            a1 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(s1 - Offset(w1, bsums)), a1);
            a2 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(s2 - Offset(w2, bsums)), a2);
            a3 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(s3 - Offset(w3, bsums)), a3);
        }

        y[0] = GgmlFloat.Hsum8(a0);
        y[1] = GgmlFloat.Hsum8(a1);
        y[2] = GgmlFloat.Hsum8(a2);
        y[3] = GgmlFloat.Hsum8(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GroupTwoActs(byte* w0, byte* w1, byte* w2, byte* w3, int j, int g, Vector256<sbyte> ya, Vector256<sbyte> yb, Vector256<byte> h0, Vector256<byte> h1, Vector256<byte> h2, Vector256<byte> h3, ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3, ref Vector256<int> u0, ref Vector256<int> u1, ref Vector256<int> u2, ref Vector256<int> u3)
    {
        var q = Quants(w0, j, g);
        var c = Scales(h0, g);
        s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, ya), c);
        u0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, yb), c);
        q = Quants(w1, j, g);
        c = Scales(h1, g);
        s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, ya), c);
        u1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, yb), c);
        q = Quants(w2, j, g);
        c = Scales(h2, g);
        s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, ya), c);
        u2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, yb), c);
        q = Quants(w3, j, g);
        c = Scales(h3, g);
        s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, ya), c);
        u3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, yb), c);
    }

    /// <summary>
    /// Four weight rows with activation rows <paramref name="b"/> and <paramref name="b"/> + 1 (two sequences decoding
    /// together): each group's quants and scales unpacked once for both; per row and activation the same lanes and
    /// float steps as <see cref="FourRows"/>. Results at y[0..3] and y[yStride..yStride + 3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsTwoActs(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var ya = x.QK + ((long)b * n);
        var bsums = x.BSums + ((long)b * n / 16);
        var bss = n / 16;
        var dk = x.DK + ((long)b * nb);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default;
        for (var i = 0; i < nb; i++, w0 += BlockBytes, ya += 256, bsums += 16)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchFourRows(w0, stride, BlockBytes);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector256<int> u0 = default, u1 = default, u2 = default, u3 = default;
            for (var j = 0; j < 2; j++)
            {
                var yj = ya + (128 * j);
                var h0 = HalfScales(w0, j);
                var h1 = HalfScales(w1, j);
                var h2 = HalfScales(w2, j);
                var h3 = HalfScales(w3, j);
                GroupTwoActs(w0, w1, w2, w3, j, 0, Avx.LoadVector256(yj), Avx.LoadVector256(yj + n), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                GroupTwoActs(w0, w1, w2, w3, j, 1, Avx.LoadVector256(yj + 32), Avx.LoadVector256(yj + n + 32), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                GroupTwoActs(w0, w1, w2, w3, j, 2, Avx.LoadVector256(yj + 64), Avx.LoadVector256(yj + n + 64), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                GroupTwoActs(w0, w1, w2, w3, j, 3, Avx.LoadVector256(yj + 96), Avx.LoadVector256(yj + n + 96), h0, h1, h2, h3, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
            }

            var da = dk[i];
            var db = dk[i + nb];
            var zsums = bsums + bss;
            a0 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(s0 - Offset(w0, bsums)), a0);
            a1 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(s1 - Offset(w1, bsums)), a1);
            a2 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(s2 - Offset(w2, bsums)), a2);
            a3 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(s3 - Offset(w3, bsums)), a3);
            e0 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(u0 - Offset(w0, zsums)), e0);
            e1 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(u1 - Offset(w1, zsums)), e1);
            e2 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(u2 - Offset(w2, zsums)), e2);
            e3 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(u3 - Offset(w3, zsums)), e3);
        }

        y[0] = GgmlFloat.Hsum8(a0);
        y[1] = GgmlFloat.Hsum8(a1);
        y[2] = GgmlFloat.Hsum8(a2);
        y[3] = GgmlFloat.Hsum8(a3);
        var z = y + yStride;
        z[0] = GgmlFloat.Hsum8(e0);
        z[1] = GgmlFloat.Hsum8(e1);
        z[2] = GgmlFloat.Hsum8(e2);
        z[3] = GgmlFloat.Hsum8(e3);
    }
}
