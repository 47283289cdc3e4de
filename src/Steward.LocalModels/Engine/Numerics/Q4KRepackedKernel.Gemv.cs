using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>The gemv-ordered kernels of <see cref="Q4KRepackedKernel"/>: generation, and sequences decoding together.</summary>
internal sealed unsafe partial class Q4KRepackedKernel
{
    /// <summary>
    /// Four weight rows with one activation row in gemv order (generation): each super-block's integers summed whole.
    /// Straight-line code, no branches in the loop: this is the kernel generation streams every Q4_K weight through.
    /// The integer work is vectorised across rows where ggml's scalar code would be (scales broadcast by shuffles,
    /// minimums by one multiply-add, the four rows' totals reduced together); integers are exact in any order, and
    /// the float steps are ggml's, one lane per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsGemv(Matrix w, int r, Activations x, int b, int n, float* result)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QKPaired + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        Vector128<float> a = default, c = default;
        for (var i = 0; i < nb; i++, q += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchFourRows(w0, stride, BlockBytes);

            // The activation's sums of 32 elements, for the minimums.
            var s16 = PairSums(bsums);
            var y0 = Avx.LoadVector256(q);
            var y1 = Avx.LoadVector256(q + 32);
            var y2 = Avx.LoadVector256(q + 64);
            var y3 = Avx.LoadVector256(q + 96);
            var y4 = Avx.LoadVector256(q + 128);
            var y5 = Avx.LoadVector256(q + 160);
            var y6 = Avx.LoadVector256(q + 192);
            var y7 = Avx.LoadVector256(q + 224);
            var t0 = SuperBlock(w0, s16, y0, y1, y2, y3, y4, y5, y6, y7, out var m0);
            var t1 = SuperBlock(w1, s16, y0, y1, y2, y3, y4, y5, y6, y7, out var m1);
            var t2 = SuperBlock(w2, s16, y0, y1, y2, y3, y4, y5, y6, y7, out var m2);
            var t3 = SuperBlock(w3, s16, y0, y1, y2, y3, y4, y5, y6, y7, out var m3);
            var isum = Sum4(t0, t1, t2, t3);
            var imin = Sum4(m0, m1, m2, m3);
            var d = dk[i];
            var dw = Halves(f16, w0, stride, 0);
            var dm = Halves(f16, w0, stride, 2);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(isum), dw * d, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(imin), dm * d, c);
        }

        Vector128.Store(a - c, result);
    }

    /// <summary>
    /// <see cref="FourRowsGemv"/> 512 bits wide, with fewer instructions per super-block (generation is bound by them,
    /// not by memory, on the 256-bit form): half a super-block's 64 quant bytes are one load whose low nibbles are
    /// elements 0-31 and 64-95 of the half and high nibbles 32-63 and 96-127, met by activations loaded in that order;
    /// each 16-bit pair product is scaled by one multiply-add against its sub-block's scale. The four rows' scale and
    /// minimum bytes are unpacked together (ggml's kmask steps on 32-bit lanes, one row per 128-bit lane), and the
    /// minimums meet the activation sums in one multiply-add. Same integers per super-block and the same float steps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsGemvWide(Matrix w, int r, Activations x, int b, int n, float* result)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        var nibble = Vector512.Create((byte)0x0F);
        Vector128<float> a = default, c = default;
        for (var i = 0; i < nb; i++, q += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Prefetch(w0);
            Prefetch(w1);
            Prefetch(w2);
            Prefetch(w3);

            // Every row's d, dmin and twelve packed bytes (16 bytes), one row per 128-bit lane, unpacked together.
            var u = UnpackFour(w0, w1, w2, w3);

            // The minimums (bytes 8-15 of each lane, widened) times the activation's 32-element sums, summed per row.
            var mins = Avx512BW.Shuffle(u, MinsControl).AsInt16();
            var imin = WideMins(mins, bsums);

            var ya0 = Spread(q, 0);
            var yb0 = Spread(q, 32);
            var ya1 = Spread(q, 128);
            var yb1 = Spread(q, 160);
            var t0 = WideSuperBlock(w0, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b00_00_00_00).AsByte(), nibble, ya0, yb0, ya1, yb1);
            var t1 = WideSuperBlock(w1, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b01_01_01_01).AsByte(), nibble, ya0, yb0, ya1, yb1);
            var t2 = WideSuperBlock(w2, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b10_10_10_10).AsByte(), nibble, ya0, yb0, ya1, yb1);
            var t3 = WideSuperBlock(w3, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b11_11_11_11).AsByte(), nibble, ya0, yb0, ya1, yb1);
            var h = HalfTotals(t0, t1, t2, t3);
            var isum = h.GetLower() + h.GetUpper();
            var d = dk[i];
            var dw = Halves(f16, w0, stride, 0);
            var dm = Halves(f16, w0, stride, 2);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(isum), dw * d, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(imin), dm * d, c);
        }

        Vector128.Store(a - c, result);
    }

    /// <summary>
    /// <see cref="FourRowsGemvWide"/> for activation rows <paramref name="b"/> and <paramref name="b"/> + 1 (sequences
    /// decoding together): scales, minimums and nibbles are unpacked once for both; per row and activation the same
    /// integers and float steps as <see cref="FourRowsGemvTwoActs"/>. Results at y[0..3] and y[yStride..yStride + 3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsGemvTwoActsWide(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var qa = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var bss = n / 16;
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        var nibble = Vector512.Create((byte)0x0F);
        Vector128<float> a = default, c = default, e = default, f = default;
        for (var i = 0; i < nb; i++, qa += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Prefetch(w0);
            Prefetch(w1);
            Prefetch(w2);
            Prefetch(w3);
            var u = UnpackFour(w0, w1, w2, w3);
            var mins = Avx512BW.Shuffle(u, MinsControl).AsInt16();
            var iminA = WideMins(mins, bsums);
            var iminB = WideMins(mins, bsums + bss);
            var qb = qa + n;
            var acts = new WideActs(Spread(qa, 0), Spread(qa, 32), Spread(qa, 128), Spread(qa, 160), Spread(qb, 0), Spread(qb, 32), Spread(qb, 128), Spread(qb, 160));
            var t0 = WideSuperBlockTwoActs(w0, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b00_00_00_00).AsByte(), nibble, acts, out var v0);
            var t1 = WideSuperBlockTwoActs(w1, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b01_01_01_01).AsByte(), nibble, acts, out var v1);
            var t2 = WideSuperBlockTwoActs(w2, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b10_10_10_10).AsByte(), nibble, acts, out var v2);
            var t3 = WideSuperBlockTwoActs(w3, Avx512F.Shuffle4x128(u.AsUInt32(), u.AsUInt32(), 0b11_11_11_11).AsByte(), nibble, acts, out var v3);
            var ht = HalfTotals(t0, t1, t2, t3);
            var hv = HalfTotals(v0, v1, v2, v3);
            var dw = Halves(f16, w0, stride, 0);
            var dm = Halves(f16, w0, stride, 2);
            var da = dk[i];
            var db = dk[i + nb];
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(ht.GetLower() + ht.GetUpper()), dw * da, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(iminA), dm * da, c);
            e = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(hv.GetLower() + hv.GetUpper()), dw * db, e);
            f = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(iminB), dm * db, f);
        }

        Vector128.Store(a - c, y);
        Vector128.Store(e - f, y + yStride);
    }

    /// <summary>Two activation rows' super-blocks in <see cref="FourRowsGemvWide"/>'s order (<see cref="Spread"/>).</summary>
    private readonly struct WideActs(Vector512<sbyte> ya0, Vector512<sbyte> yb0, Vector512<sbyte> ya1, Vector512<sbyte> yb1, Vector512<sbyte> za0, Vector512<sbyte> zb0, Vector512<sbyte> za1, Vector512<sbyte> zb1)
    {
        public readonly Vector512<sbyte> Ya0 = ya0, Yb0 = yb0, Ya1 = ya1, Yb1 = yb1, Za0 = za0, Zb0 = zb0, Za1 = za1, Zb1 = zb1;
    }

    /// <summary><see cref="WideSuperBlock"/> for two activation rows, the nibbles and scales shared: activation a's lanes returned, b's in <paramref name="sumB"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> WideSuperBlockTwoActs(byte* blk, Vector512<byte> u, Vector512<byte> nibble, in WideActs y, out Vector512<int> sumB)
    {
        var q0 = Avx512F.LoadVector512(blk + 16);
        var q1 = Avx512F.LoadVector512(blk + 80);
        var l0 = q0 & nibble;
        var h0 = HighNibbles(q0, nibble);
        var l1 = q1 & nibble;
        var h1 = HighNibbles(q1, nibble);
        var s0 = Avx512BW.Shuffle(u, ScalesLow0).AsInt16();
        var s1 = Avx512BW.Shuffle(u, ScalesHigh0).AsInt16();
        var s2 = Avx512BW.Shuffle(u, ScalesLow1).AsInt16();
        var s3 = Avx512BW.Shuffle(u, ScalesHigh1).AsInt16();
        var sum = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y.Ya0), s0);
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(h0, y.Yb0), s1);
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y.Ya1), s2);
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(h1, y.Yb1), s3);
        sumB = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y.Za0), s0);
        sumB += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(h0, y.Zb0), s1);
        sumB += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y.Za1), s2);
        sumB += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(h1, y.Zb1), s3);
        return sum;
    }

    /// <summary>
    /// Activation quants <paramref name="offset"/>..+31 of the super-block at <paramref name="q"/> and the 32 that follow
    /// 64 later, one register: what a 64-byte load of half a weight super-block's nibbles meets (<see cref="WideSuperBlock"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Spread(sbyte* q, int offset) =>
        Avx512F.InsertVector256(Avx.LoadVector256(q + offset).ToVector512Unsafe(), Avx.LoadVector256(q + offset + 64), 1);

    /// <summary>
    /// Four rows' minimum totals: <paramref name="mins"/> (each row's eight minimums widened in its 128-bit lane) times
    /// the activation's 32-element sums from <paramref name="bsums"/>, each lane's four products summed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> WideMins(Vector512<short> mins, short* bsums)
    {
        var s16 = PairSums(bsums).AsInt32().ToVector256Unsafe().ToVector512Unsafe();
        s16 = Avx512F.PermuteVar16x32(s16, Vector512.Create(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3));
        var m = Avx512BW.MultiplyAddAdjacent(mins, s16.AsInt16());
        m += Avx512F.Shuffle(m, 0b01_00_11_10);
        m += Avx512F.Shuffle(m, 0b10_11_00_01);
        return Avx512F.PermuteVar16x32(m, Vector512.Create(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12)).GetLower().GetLower();
    }

    /// <summary>Widens each 128-bit lane's bytes 8-15 (a row's minimums after <see cref="UnpackFour"/>) into its 16-bit lanes.</summary>
    private static Vector512<byte> MinsControl
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x800B800A80098008ul, 0x800F800E800D800Cul, 0x800B800A80098008ul, 0x800F800E800D800Cul, 0x800B800A80098008ul, 0x800F800E800D800Cul, 0x800B800A80098008ul, 0x800F800E800D800Cul).AsByte();
    }

    /// <summary>
    /// The weight super-block <see cref="Q8Kernels.PrefetchDistance"/> ahead: its three cache lines from its start (a
    /// row streamed block by block, the line its last bytes may spill into is the next block's first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* blk)
    {
        var p = blk + Q8Kernels.PrefetchDistance;
        Sse.Prefetch1(p);
        Sse.Prefetch1(p + 64);
        Sse.Prefetch1(p + 128);
    }

    /// <summary>
    /// ggml's kmask unpacking of four rows' 12 packed bytes at once, one row per 128-bit lane (bytes 0-7 the eight
    /// scales, 8-15 the eight minimums): from each row's 32-bit words [d|dmin, a, b, c], lanes [a, a, b, b] and [c, c, c, c],
    /// shifted by [0, 2, 0, 2] and [0, 0, 0, 4], give <c>a &amp; 0x3f</c>, <c>(c &amp; 0x0f) | (a &gt;&gt; 6 &amp; 3) &lt;&lt; 4</c>,
    /// <c>b &amp; 0x3f</c> and <c>(c &gt;&gt; 4 &amp; 0x0f) | (b &gt;&gt; 6 &amp; 3) &lt;&lt; 4</c> by one bit select and one mask
    /// (<c>(x &gt;&gt; 6 &amp; 3) &lt;&lt; 4</c> is <c>x &gt;&gt; 2 &amp; 0x30</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> UnpackFour(byte* w0, byte* w1, byte* w2, byte* w3)
    {
        var hv = Sse2.LoadVector128(w0).AsUInt32().ToVector256Unsafe().ToVector512Unsafe();
        hv = Avx512F.InsertVector128(hv, Sse2.LoadVector128(w1).AsUInt32(), 1);
        hv = Avx512F.InsertVector128(hv, Sse2.LoadVector128(w2).AsUInt32(), 2);
        hv = Avx512F.InsertVector128(hv, Sse2.LoadVector128(w3).AsUInt32(), 3);
        var ab = Avx512F.ShiftRightLogicalVariable(Avx512F.Shuffle(hv, 0b10_10_01_01), Vector512.Create(0u, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2));
        var cc = Avx512F.ShiftRightLogicalVariable(Avx512F.Shuffle(hv, 0b11_11_11_11), Vector512.Create(0u, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4));
        var low = Vector512.Create(0u, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f, 0, 0x0f0f0f0f);
        return (Vector512.ConditionalSelect(low, cc, ab) & Vector512.Create(0x3f3f3f3fu)).AsByte();
    }

    /// <summary>
    /// One row's super-block in sixteen int32 lanes whose total is its scaled integer, <paramref name="u"/> holding
    /// the row's unpacked scales (<see cref="UnpackFour"/>) in every 128-bit lane. The byte-pair products (at most
    /// 2 × 15 × 128) fit 16 bits, as in ggml.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> WideSuperBlock(byte* blk, Vector512<byte> u, Vector512<byte> nibble, Vector512<sbyte> ya0, Vector512<sbyte> yb0, Vector512<sbyte> ya1, Vector512<sbyte> yb1)
    {
        var q0 = Avx512F.LoadVector512(blk + 16);
        var q1 = Avx512F.LoadVector512(blk + 80);
        var sum = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0 & nibble, ya0), Avx512BW.Shuffle(u, ScalesLow0).AsInt16());
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(HighNibbles(q0, nibble), yb0), Avx512BW.Shuffle(u, ScalesHigh0).AsInt16());
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1 & nibble, ya1), Avx512BW.Shuffle(u, ScalesLow1).AsInt16());
        sum += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(HighNibbles(q1, nibble), yb1), Avx512BW.Shuffle(u, ScalesHigh1).AsInt16());
        return sum;
    }

    /// <summary>Each byte's high nibble: one affine transform where GFNI has it (a 4-bit right shift as a bit matrix), else a shift and a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> HighNibbles(Vector512<byte> v, Vector512<byte> nibble) =>
        Gfni.V512.IsSupported
            ? Gfni.V512.GaloisFieldAffineTransform(v, Vector512.Create(0x1020408000000000ul).AsByte(), 0)
            : Avx512BW.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & nibble;

    /// <summary>
    /// <see cref="Avx512BW.Shuffle(Vector512{byte}, Vector512{byte})"/> controls putting scale byte <c>lo</c>, zero-extended,
    /// into the 16-bit lanes of 128-bit lanes 0-1 and byte <c>hi</c> into those of 2-3 (<c>0x80</c> zeroes a byte): the
    /// sub-block scales of a half super-block's low-nibble products (sub-blocks 0,0,2,2 or 4,4,6,6 by 128-bit lane) or
    /// high-nibble ones (1,1,3,3 or 5,5,7,7). Written out as literals so that the JIT keeps them as constants.
    /// </summary>
    private static Vector512<byte> ScalesLow0
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x8000800080008000ul, 0x8000800080008000ul, 0x8000800080008000ul, 0x8000800080008000ul, 0x8002800280028002ul, 0x8002800280028002ul, 0x8002800280028002ul, 0x8002800280028002ul).AsByte();
    }

    private static Vector512<byte> ScalesHigh0
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x8001800180018001ul, 0x8001800180018001ul, 0x8001800180018001ul, 0x8001800180018001ul, 0x8003800380038003ul, 0x8003800380038003ul, 0x8003800380038003ul, 0x8003800380038003ul).AsByte();
    }

    private static Vector512<byte> ScalesLow1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x8004800480048004ul, 0x8004800480048004ul, 0x8004800480048004ul, 0x8004800480048004ul, 0x8006800680068006ul, 0x8006800680068006ul, 0x8006800680068006ul, 0x8006800680068006ul).AsByte();
    }

    private static Vector512<byte> ScalesHigh1
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0x8005800580058005ul, 0x8005800580058005ul, 0x8005800580058005ul, 0x8005800580058005ul, 0x8007800780078007ul, 0x8007800780078007ul, 0x8007800780078007ul, 0x8007800780078007ul).AsByte();
    }

    /// <summary>
    /// <see cref="FourRowsGemv"/> for activation rows <paramref name="b"/> and <paramref name="b"/> + 1 (several sequences
    /// decoding together): scales, minimums and nibbles are unpacked once for both; per row and activation the same
    /// integers and float steps. Results at y[0..3] and y[yStride..yStride + 3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsGemvTwoActs(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var qa = x.QKPaired + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var bss = n / 16;
        var stride = w.RowBytes;
        var w0 = w.Row(r);
        Vector128<float> a = default, c = default, e = default, f = default;
        for (var i = 0; i < nb; i++, qa += 256, bsums += 16, w0 += BlockBytes)
        {
            var w1 = w0 + stride;
            var w2 = w1 + stride;
            var w3 = w2 + stride;
            Q8Kernels.PrefetchFourRows(w0, stride, BlockBytes);
            var sa = PairSums(bsums);
            var sb = PairSums(bsums + bss);
            var qb = qa + n;
            var t0 = SuperBlockTwoActs(w0, sa, sb, qa, qb, out var u0, out var m0, out var v0);
            var t1 = SuperBlockTwoActs(w1, sa, sb, qa, qb, out var u1, out var m1, out var v1);
            var t2 = SuperBlockTwoActs(w2, sa, sb, qa, qb, out var u2, out var m2, out var v2);
            var t3 = SuperBlockTwoActs(w3, sa, sb, qa, qb, out var u3, out var m3, out var v3);
            var dw = Halves(f16, w0, stride, 0);
            var dm = Halves(f16, w0, stride, 2);
            var da = dk[i];
            var db = dk[i + nb];
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sum4(t0, t1, t2, t3)), dw * da, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sum4(m0, m1, m2, m3)), dm * da, c);
            e = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sum4(u0, u1, u2, u3)), dw * db, e);
            f = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sum4(v0, v1, v2, v3)), dm * db, f);
        }

        Vector128.Store(a - c, y);
        Vector128.Store(e - f, y + yStride);
    }

    /// <summary><see cref="SuperBlock"/> for two activation rows at <paramref name="qa"/> and <paramref name="qb"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SuperBlockTwoActs(byte* blk, Vector128<short> sa, Vector128<short> sb, sbyte* qa, sbyte* qb, out Vector256<int> sumB, out Vector128<int> minsA, out Vector128<int> minsB)
    {
        var sm = Avx2.ConvertToVector256Int16(Unpack(blk + 4).AsByte());
        minsA = Sse2.MultiplyAddAdjacent(sm.GetUpper(), sa);
        minsB = Sse2.MultiplyAddAdjacent(sm.GetUpper(), sb);
        var scales = Vector256.Create(sm.GetLower(), sm.GetLower()).AsByte();
        Vector256<int> sumA = default;
        sumB = default;
        PairTwoActs(blk, 0, scales, qa, qb, ref sumA, ref sumB);
        PairTwoActs(blk, 1, scales, qa, qb, ref sumA, ref sumB);
        PairTwoActs(blk, 2, scales, qa, qb, ref sumA, ref sumB);
        PairTwoActs(blk, 3, scales, qa, qb, ref sumA, ref sumB);
        return sumA;
    }

    /// <summary><see cref="Pair"/> for two activation rows, the nibbles and scales shared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PairTwoActs(byte* blk, int j, Vector256<byte> scales, sbyte* qa, sbyte* qb, ref Vector256<int> sumA, ref Vector256<int> sumB)
    {
        var w1 = Q8Kernels.Nibbles(blk + 16 + (32 * j));
        var w2 = Q8Kernels.Nibbles(blk + 32 + (32 * j));
        var sc = PieceScales(scales, j);
        var o = 64 * j;
        sumA += PairedDot(w1, w2, Avx.LoadVector256(qa + o), Avx.LoadVector256(qa + o + 32), sc);
        sumB += PairedDot(w1, w2, Avx.LoadVector256(qb + o), Avx.LoadVector256(qb + o + 32), sc);
    }

    /// <summary>
    /// A super-block's scaled products in eight int32 lanes, and its minimums times the activation sums
    /// (<paramref name="s16"/>) in four.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SuperBlock(byte* blk, Vector128<short> s16, Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3, Vector256<sbyte> y4, Vector256<sbyte> y5, Vector256<sbyte> y6, Vector256<sbyte> y7, out Vector128<int> mins)
    {
        // Eight 6-bit scales then eight minimums, widened to 16 bits.
        var sm = Avx2.ConvertToVector256Int16(Unpack(blk + 4).AsByte());
        mins = Sse2.MultiplyAddAdjacent(sm.GetUpper(), s16);
        var scales = Vector256.Create(sm.GetLower(), sm.GetLower()).AsByte();
        var sum = Pair(blk, 0, scales, y0, y1) + Pair(blk, 1, scales, y2, y3);
        sum += Pair(blk, 2, scales, y4, y5) + Pair(blk, 3, scales, y6, y7);
        return sum;
    }

    /// <summary>
    /// Sub-blocks 2j and 2j+1 (64 elements) against the paired activations <paramref name="y1"/> (elements 0-15 and
    /// 32-47 of the piece) and <paramref name="y2"/> (16-31, 48-63): see <see cref="PairedDot"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pair(byte* blk, int j, Vector256<byte> scales, Vector256<sbyte> y1, Vector256<sbyte> y2) =>
        PairedDot(Q8Kernels.Nibbles(blk + 16 + (32 * j)), Q8Kernels.Nibbles(blk + 32 + (32 * j)), y1, y2, PieceScales(scales, j));

    /// <summary>
    /// A 64-element piece's scaled products in eight int32 lanes (their total is the piece's integer). <paramref name="w1"/>
    /// holds the low nibbles of the piece's first sixteen bytes (elements 0-15, scale 2j) then their high nibbles (32-47,
    /// scale 2j + 1), <paramref name="w2"/> the same of the next sixteen bytes (16-31, 48-63), matching the paired
    /// activations. The two byte-pair products (at most 2 × 15 × 127 each) add in 16 bits without overflow, and one
    /// multiply by <paramref name="sc"/> (the low half's scale, the high half's) gives what scaling each 32 elements
    /// apart gives, with one multiply fewer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairedDot(Vector256<byte> w1, Vector256<byte> w2, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<short> sc) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w1, y1) + Avx2.MultiplyAddAdjacent(w2, y2), sc);

    /// <summary>Scale 2j in the low 128 bits, 2j + 1 in the high, as 16-bit lanes, from the widened scales (eight int16 in each half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> PieceScales(Vector256<byte> scales, int j) =>
        Avx2.Shuffle(scales, Vector256.Create(Vector128.Create((short)(0x0100 + (0x0202 * 2 * j))), Vector128.Create((short)(0x0100 + (0x0202 * ((2 * j) + 1))))).AsByte()).AsInt16();
}
