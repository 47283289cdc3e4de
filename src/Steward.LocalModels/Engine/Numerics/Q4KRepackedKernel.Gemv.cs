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
