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
                    if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
                    {
                        FourRowsTwoActsWide(w, r, x, b, n, y + ((long)b * yStride) + r, yStride);
                    }
                    else
                    {
                        FourRowsTwoActs(w, r, x, b, n, y + ((long)b * yStride) + r, yStride);
                    }
                }

                if (b < end)
                {
                    if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
                    {
                        FourRowsWide(w, r, x, b, n, y + ((long)b * yStride) + r);
                    }
                    else
                    {
                        FourRows(w, r, x, b, n, y + ((long)b * yStride) + r);
                    }
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

        var r2 = r0;
        if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
        {
            for (; r2 + 2 <= r1; r2 += 2)
            {
                var b = b0;
                for (; b + 4 <= end; b += 4)
                {
                    TwoRowsFourActsWide(w.Row(r2), w.RowBytes, x, b, n, y + ((long)b * yStride) + r2, yStride);
                }

                if (b < end)
                {
                    OneRowFourActs(w.Row(r2), x, b, end - b, n, y + ((long)b * yStride) + r2, yStride);
                    OneRowFourActs(w.Row(r2 + 1), x, b, end - b, n, y + ((long)b * yStride) + r2 + 1, yStride);
                }
            }
        }

        for (var r = r2; r < r1; r++)
        {
            for (var b = b0; b < end; b += 4)
            {
                OneRowFourActs(w.Row(r), x, b, Math.Min(4, end - b), n, y + ((long)b * yStride) + r, yStride);
            }
        }
    }

    /// <summary>
    /// Two weight rows with four activation rows (prompt processing), 512 bits wide: each register holds the same
    /// quants, scales or accumulator of both rows (row <paramref name="wa"/> in the low 256 bits, the next row in the
    /// high) and meets the activation broadcast to both halves, so every product, sum, conversion and FMA serves two
    /// (row, activation) pairs. Each half's int32 lanes and float steps are exactly <see cref="OneRowFourActs"/>'s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TwoRowsFourActsWide(byte* wa, long rowBytes, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q0p = x.QK + ((long)b * n);
        var bs0 = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        var wb = wa + rowBytes;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var i = 0; i < nb; i++, wa += BlockBytes, wb += BlockBytes, q0p += 256, bs0 += 16)
        {
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (var j = 0; j < 2; j++)
            {
                var yj = q0p + (128 * j);
                var row = new WideHalfRow(wa, wb, j);
                s0 += row.Dot(yj);
                s1 += row.Dot(yj + n);
                s2 += row.Dot(yj + (2 * n));
                s3 += row.Dot(yj + (3 * n));
            }

            // The 16 scales of each row widened once, for the four activations' offsets.
            var sc = Avx512F.InsertVector256(
                Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(wa + 192))).ToVector512Unsafe(),
                Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(wb + 192))),
                1);
            var dw = Avx512F.InsertVector256(Vector256.Create(f16[*(ushort*)(wa + 208)]).ToVector512Unsafe(), Vector256.Create(f16[*(ushort*)(wb + 208)]), 1);
            a0 = Avx512F.FusedMultiplyAdd(dw * dk[i], Avx512F.ConvertToVector512Single(s0 - WideOffset(sc, bs0)), a0);
            a1 = Avx512F.FusedMultiplyAdd(dw * dk[i + nb], Avx512F.ConvertToVector512Single(s1 - WideOffset(sc, bs0 + bss)), a1);
            a2 = Avx512F.FusedMultiplyAdd(dw * dk[i + (2 * nb)], Avx512F.ConvertToVector512Single(s2 - WideOffset(sc, bs0 + (2 * bss))), a2);
            a3 = Avx512F.FusedMultiplyAdd(dw * dk[i + (3 * nb)], Avx512F.ConvertToVector512Single(s3 - WideOffset(sc, bs0 + (3 * bss))), a3);
        }

        y[0] = GgmlFloat.Hsum8(a0.GetLower());
        y[1] = GgmlFloat.Hsum8(a0.GetUpper());
        y[yStride] = GgmlFloat.Hsum8(a1.GetLower());
        y[yStride + 1] = GgmlFloat.Hsum8(a1.GetUpper());
        y[2 * yStride] = GgmlFloat.Hsum8(a2.GetLower());
        y[(2 * yStride) + 1] = GgmlFloat.Hsum8(a2.GetUpper());
        y[3 * yStride] = GgmlFloat.Hsum8(a3.GetLower());
        y[(3 * yStride) + 1] = GgmlFloat.Hsum8(a3.GetUpper());
    }

    /// <summary><see cref="Offset"/> of both rows (<paramref name="sc"/>: their widened scales) with one activation's sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> WideOffset(Vector512<short> sc, short* bsums) =>
        Avx512BW.MultiplyAddAdjacent(Q8Kernels.Broadcast256(bsums).AsInt16(), sc) << 5;

    /// <summary><see cref="HalfRow"/> of two weight rows at once, one per 256-bit half.</summary>
    private readonly struct WideHalfRow
    {
        private readonly Vector512<byte> _q0, _q1, _q2, _q3;
        private readonly Vector512<short> _c0, _c1, _c2, _c3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public WideHalfRow(byte* wa, byte* wb, int j)
        {
            var m4 = Vector512.Create((byte)0xF);
            var m2 = Vector512.Create((byte)0x30);
            var ql0 = Avx512F.InsertVector256(Avx.LoadVector256(wa + (64 * j)).ToVector512Unsafe(), Avx.LoadVector256(wb + (64 * j)), 1);
            var ql1 = Avx512F.InsertVector256(Avx.LoadVector256(wa + (64 * j) + 32).ToVector512Unsafe(), Avx.LoadVector256(wb + (64 * j) + 32), 1);
            var qh = Avx512F.InsertVector256(Avx.LoadVector256(wa + 128 + (32 * j)).ToVector512Unsafe(), Avx.LoadVector256(wb + 128 + (32 * j)), 1);
            _q0 = (ql0 & m4) | ((qh.AsUInt16() << 4).AsByte() & m2);
            _q1 = (ql1 & m4) | ((qh.AsUInt16() << 2).AsByte() & m2);
            _q2 = ((ql0.AsUInt16() >> 4).AsByte() & m4) | (qh & m2);
            _q3 = ((ql1.AsUInt16() >> 4).AsByte() & m4) | ((qh.AsUInt16() >> 2).AsByte() & m2);
            var half = Avx512F.InsertVector256(HalfScales(wa, j).ToVector512Unsafe(), HalfScales(wb, j), 1);
            _c0 = WideScales(half, 0);
            _c1 = WideScales(half, 1);
            _c2 = WideScales(half, 2);
            _c3 = WideScales(half, 3);
        }

        /// <summary>Both rows' eight int32 lanes (before the offset) against the activation half at y, broadcast to both halves.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Dot(sbyte* y) =>
            WideProduct(_q0, _c0, y) + WideProduct(_q1, _c1, y + 32) + (WideProduct(_q2, _c2, y + 64) + WideProduct(_q3, _c3, y + 96));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<short> WideScales(Vector512<byte> half, int g)
        {
            var lane = Vector256.Create(Vector128.Create((short)(0x0100 + (0x0404 * g))), Vector128.Create((short)(0x0302 + (0x0404 * g)))).AsByte();
            return Avx512BW.Shuffle(half, Avx512F.InsertVector256(lane.ToVector512Unsafe(), lane, 1)).AsInt16();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> WideProduct(Vector512<byte> q, Vector512<short> scale, sbyte* y) =>
            Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q, Q8Kernels.Broadcast256(y)), scale);
    }

    /// <summary>
    /// The four 32-quant groups of half j of a super-block (elements 0..127 of the half), ggml's bit layout, from three
    /// loads: group g's low four bits are a nibble of ql (g 0/1: low nibbles of its first/second 32 bytes, g 2/3: high
    /// ones), its top two bits are bits 2g, 2g+1 of qh. Unpacking a half at once, not a group at a time, reads ql and
    /// qh once instead of four times per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalfQuants(byte* blk, int j, out Vector256<byte> q0, out Vector256<byte> q1, out Vector256<byte> q2, out Vector256<byte> q3)
    {
        var m4 = Vector256.Create((byte)0xF);
        var m2 = Vector256.Create((byte)0x30);
        var ql0 = Avx.LoadVector256(blk + (64 * j));
        var ql1 = Avx.LoadVector256(blk + (64 * j) + 32);
        var qh = Avx.LoadVector256(blk + 128 + (32 * j));

        // 16-bit shifts move bits across the byte boundary only into bits the masks drop.
        q0 = (ql0 & m4) | (Avx2.ShiftLeftLogical(qh.AsUInt16(), 4).AsByte() & m2);
        q1 = (ql1 & m4) | (Avx2.ShiftLeftLogical(qh.AsUInt16(), 2).AsByte() & m2);
        q2 = (Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & m4) | (qh & m2);
        q3 = (Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(qh.AsUInt16(), 2).AsByte() & m2);
    }

    /// <summary>
    /// Half j of one weight row's super-block, unpacked: its four 32-quant groups and their scales, ready to meet any
    /// number of activation rows.
    /// </summary>
    private readonly struct HalfRow
    {
        private readonly Vector256<byte> _q0, _q1, _q2, _q3;
        private readonly Vector256<short> _c0, _c1, _c2, _c3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public HalfRow(byte* blk, int j)
        {
            HalfQuants(blk, j, out _q0, out _q1, out _q2, out _q3);
            var half = HalfScales(blk, j);
            _c0 = Scales(half, 0);
            _c1 = Scales(half, 1);
            _c2 = Scales(half, 2);
            _c3 = Scales(half, 3);
        }

        /// <summary>The eight int32 lanes of ggml's vec_dot (before the offset) against the activation half at y.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Dot(sbyte* y) =>
            Product(_q0, _c0, y) + Product(_q1, _c1, y + 32) + (Product(_q2, _c2, y + 64) + Product(_q3, _c3, y + 96));

        /// <summary><see cref="Dot(sbyte*)"/> with the activation half already in registers.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Dot(Vector256<sbyte> ya, Vector256<sbyte> yb, Vector256<sbyte> yc, Vector256<sbyte> yd) =>
            Product(_q0, _c0, ya) + Product(_q1, _c1, yb) + (Product(_q2, _c2, yc) + Product(_q3, _c3, yd));
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
        Product(q, scale, Avx.LoadVector256(y));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Product(Vector256<byte> q, Vector256<short> scale, Vector256<sbyte> y) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, y), scale);

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
                var row = new HalfRow(wr, j);
                var yj = q0p + (128 * j);
                s0 += row.Dot(yj);
                if (acts > 1)
                {
                    s1 += row.Dot(yj + qs);
                }

                if (acts > 2)
                {
                    s2 += row.Dot(yj + (2 * qs));
                }

                if (acts > 3)
                {
                    s3 += row.Dot(yj + (3 * qs));
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
                var ya = Avx.LoadVector256(yj);
                var yb = Avx.LoadVector256(yj + 32);
                var yc = Avx.LoadVector256(yj + 64);
                var yd = Avx.LoadVector256(yj + 96);
                s0 += new HalfRow(w0, j).Dot(ya, yb, yc, yd);
                s1 += new HalfRow(w1, j).Dot(ya, yb, yc, yd);
                s2 += new HalfRow(w2, j).Dot(ya, yb, yc, yd);
                s3 += new HalfRow(w3, j).Dot(ya, yb, yc, yd);
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

    /// <summary>
    /// <see cref="FourRows"/> 512 bits wide, in fewer instructions per super-block (generation of a Q4_K_M file spends
    /// a third of its time here, in the output projection and ffn_down). Half a super-block's 64 ql bytes are one load:
    /// its low nibbles are groups 0 and 1, its high nibbles groups 2 and 3, each register meeting 64 consecutive
    /// activations, and qh is shifted by a different amount per 256-bit half. Each half's int32 lanes are the 256-bit
    /// groups', so their sum per lane, and the float steps, are <see cref="FourRows"/>' exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsWide(Matrix w, int r, Activations x, int b, int n, float* y)
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
            Prefetch(w0);
            Prefetch(w1);
            Prefetch(w2);
            Prefetch(w3);
            var y01 = Avx512F.LoadVector512(yq);
            var y23 = Avx512F.LoadVector512(yq + 64);
            var s0 = WideHalf(w0, 0, y01, y23);
            var s1 = WideHalf(w1, 0, y01, y23);
            var s2 = WideHalf(w2, 0, y01, y23);
            var s3 = WideHalf(w3, 0, y01, y23);
            y01 = Avx512F.LoadVector512(yq + 128);
            y23 = Avx512F.LoadVector512(yq + 192);
            s0 += WideHalf(w0, 1, y01, y23);
            s1 += WideHalf(w1, 1, y01, y23);
            s2 += WideHalf(w2, 1, y01, y23);
            s3 += WideHalf(w3, 1, y01, y23);

            var d = dk[i];
            a0 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(s0.GetLower() + s0.GetUpper() - Offset(w0, bsums)), a0);
            a1 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(s1.GetLower() + s1.GetUpper() - Offset(w1, bsums)), a1);
            a2 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(s2.GetLower() + s2.GetUpper() - Offset(w2, bsums)), a2);
            a3 = Fma.MultiplyAdd(Vector256.Create(d * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(s3.GetLower() + s3.GetUpper() - Offset(w3, bsums)), a3);
        }

        y[0] = GgmlFloat.Hsum8(a0);
        y[1] = GgmlFloat.Hsum8(a1);
        y[2] = GgmlFloat.Hsum8(a2);
        y[3] = GgmlFloat.Hsum8(a3);
    }

    /// <summary>
    /// The super-block <see cref="Q8Kernels.PrefetchDistance"/> ahead, its four cache lines from its start (streamed
    /// block by block, the line its last bytes may spill into is the next block's first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* blk)
    {
        var p = blk + Q8Kernels.PrefetchDistance;
        Sse.Prefetch1(p);
        Sse.Prefetch1(p + 64);
        Sse.Prefetch1(p + 128);
        Sse.Prefetch1(p + 192);
    }

    /// <summary>
    /// Half j of a super-block against its 128 activations (<paramref name="y01"/>: elements 0-63, <paramref name="y23"/>:
    /// 64-127): [group 0 lanes | group 1 lanes] + [group 2 | group 3], each group's lanes as <see cref="HalfRow.Dot(sbyte*)"/>'s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> WideHalf(byte* blk, int j, Vector512<sbyte> y01, Vector512<sbyte> y23) =>
        new WideHalfQuants(blk, j).Dot(y01, y23);

    /// <summary>Half j of one row's super-block unpacked for <see cref="WideHalf"/>: groups 0|1 and 2|3 with their scales.</summary>
    private readonly struct WideHalfQuants
    {
        private readonly Vector512<byte> _q01, _q23;
        private readonly Vector512<short> _c01, _c23;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public WideHalfQuants(byte* blk, int j)
        {
            var m4 = Vector512.Create((byte)0xF);
            var m2 = Vector512.Create((byte)0x30);
            var ql = Avx512F.LoadVector512(blk + (64 * j));
            var qh = Q8Kernels.Broadcast256(blk + 128 + (32 * j)).AsUInt16();

            // Groups 0 | 1 take qh's bits 0-1 | 2-3 (shifted up by 4 | 2), groups 2 | 3 bits 4-5 | 6-7 (down by 0 | 2); 16-bit
            // shifts move bits across the byte boundary only into bits the masks drop.
            var h01 = Avx512BW.ShiftLeftLogicalVariable(qh, Vector512.Create((ushort)4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)).AsByte() & m2;
            var h23 = Avx512BW.ShiftRightLogicalVariable(qh, Vector512.Create((ushort)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)).AsByte() & m2;
            _q01 = Vector512.ConditionalSelect(m4, ql, h01);
            _q23 = Vector512.ConditionalSelect(m4, Avx512BW.ShiftRightLogical(ql.AsUInt16(), 4).AsByte(), h23);

            // The half's eight scales, sign-extended, in every 128-bit lane; 128-bit lane c of q01 (16 quants) takes scale c, of q23 scale 4 + c.
            var sc = Avx2.ConvertToVector256Int16(Sse2.LoadScalarVector128((long*)(blk + 192 + (8 * j))).AsSByte()).GetLower().AsUInt32();
            var wide = sc.ToVector256Unsafe().ToVector512Unsafe();
            var half = Avx512F.Shuffle4x128(wide, wide, 0).AsByte();
            _c01 = Avx512BW.Shuffle(half, Vector512.Create(0x0100010001000100ul, 0x0100010001000100ul, 0x0302030203020302ul, 0x0302030203020302ul, 0x0504050405040504ul, 0x0504050405040504ul, 0x0706070607060706ul, 0x0706070607060706ul).AsByte()).AsInt16();
            _c23 = Avx512BW.Shuffle(half, Vector512.Create(0x0908090809080908ul, 0x0908090809080908ul, 0x0B0A0B0A0B0A0B0Aul, 0x0B0A0B0A0B0A0B0Aul, 0x0D0C0D0C0D0C0D0Cul, 0x0D0C0D0C0D0C0D0Cul, 0x0F0E0F0E0F0E0F0Eul, 0x0F0E0F0E0F0E0F0Eul).AsByte()).AsInt16();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Dot(Vector512<sbyte> y01, Vector512<sbyte> y23) =>
            Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(_q01, y01), _c01) + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(_q23, y23), _c23);
    }

    /// <summary>
    /// <see cref="FourRowsWide"/> for activation rows <paramref name="b"/> and <paramref name="b"/> + 1 (sequences decoding
    /// together): each half super-block unpacked once for both; per row and activation the same lanes and float steps
    /// as <see cref="FourRowsTwoActs"/>. Results at y[0..3] and y[yStride..yStride + 3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsTwoActsWide(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
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
            Prefetch(w0);
            Prefetch(w1);
            Prefetch(w2);
            Prefetch(w3);
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector512<int> u0 = default, u1 = default, u2 = default, u3 = default;
            for (var j = 0; j < 2; j++)
            {
                var p = ya + (128 * j);
                var y01 = Avx512F.LoadVector512(p);
                var y23 = Avx512F.LoadVector512(p + 64);
                var z01 = Avx512F.LoadVector512(p + n);
                var z23 = Avx512F.LoadVector512(p + n + 64);
                var h = new WideHalfQuants(w0, j);
                s0 += h.Dot(y01, y23);
                u0 += h.Dot(z01, z23);
                h = new WideHalfQuants(w1, j);
                s1 += h.Dot(y01, y23);
                u1 += h.Dot(z01, z23);
                h = new WideHalfQuants(w2, j);
                s2 += h.Dot(y01, y23);
                u2 += h.Dot(z01, z23);
                h = new WideHalfQuants(w3, j);
                s3 += h.Dot(y01, y23);
                u3 += h.Dot(z01, z23);
            }

            var da = dk[i];
            var db = dk[i + nb];
            var zsums = bsums + bss;
            a0 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(s0.GetLower() + s0.GetUpper() - Offset(w0, bsums)), a0);
            a1 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(s1.GetLower() + s1.GetUpper() - Offset(w1, bsums)), a1);
            a2 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(s2.GetLower() + s2.GetUpper() - Offset(w2, bsums)), a2);
            a3 = Fma.MultiplyAdd(Vector256.Create(da * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(s3.GetLower() + s3.GetUpper() - Offset(w3, bsums)), a3);
            e0 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w0 + 208)]), Avx.ConvertToVector256Single(u0.GetLower() + u0.GetUpper() - Offset(w0, zsums)), e0);
            e1 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w1 + 208)]), Avx.ConvertToVector256Single(u1.GetLower() + u1.GetUpper() - Offset(w1, zsums)), e1);
            e2 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w2 + 208)]), Avx.ConvertToVector256Single(u2.GetLower() + u2.GetUpper() - Offset(w2, zsums)), e2);
            e3 = Fma.MultiplyAdd(Vector256.Create(db * f16[*(ushort*)(w3 + 208)]), Avx.ConvertToVector256Single(u3.GetLower() + u3.GetUpper() - Offset(w3, zsums)), e3);
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

    /// <summary>Half j of one weight row against two activation rows (a and b), unpacked once for both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalfTwoActs(byte* blk, int j, sbyte* ya, sbyte* yb, ref Vector256<int> sa, ref Vector256<int> sb)
    {
        var row = new HalfRow(blk, j);
        sa += row.Dot(ya);
        sb += row.Dot(yb);
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
                HalfTwoActs(w0, j, yj, yj + n, ref s0, ref u0);
                HalfTwoActs(w1, j, yj, yj + n, ref s1, ref u1);
                HalfTwoActs(w2, j, yj, yj + n, ref s2, ref u2);
                HalfTwoActs(w3, j, yj, yj + n, ref s3, ref u3);
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
