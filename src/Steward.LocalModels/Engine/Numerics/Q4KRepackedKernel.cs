using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// Q4_K matrices as llama.cpp's CPU backend runs them once repacked (q4_K_8x8, every Q4_K weight whose row count is a
/// multiple of 8): per row and activation, integers are summed whole and scaled in two float accumulators (scales,
/// minimums) subtracted at the end. Its gemm (activation rows in groups of four) accumulates every 64 elements, its
/// gemv (the remaining rows) every 256; <see cref="MatMulOp.InGemmGroup"/> tells which a row belongs to.
/// </summary>
internal sealed unsafe partial class Q4KRepackedKernel(bool simd) : MatKernel
{
    private const int BlockBytes = 144;

    public static readonly MatKernel Simd = new Q4KRepackedKernel(simd: true);
    public static readonly MatKernel Portable = new Q4KRepackedKernel(simd: false);

    /// <summary>Q8_K, with the paired copy every SIMD path reads (<see cref="PairedDot"/>); the portable one reads the plain quants.</summary>
    public override ActivationKind Kind => ActivationKind.Q8_KPaired;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
    {
        var n = w.Cols;
        if (!simd || !KQuantKernels.Supported)
        {
            for (var r = r0; r < r1; r++)
            {
                for (var b = b0; b < b0 + count; b++)
                {
                    y[((long)b * yStride) + r] = Reference(w.Row(r), x, b, n, op.InGemmGroup(b));
                }
            }

            return;
        }

        var scratch = stackalloc float[4];
        var end = b0 + count;
        var grouped = b0;
        while (grouped + 4 <= end && op.InGemmGroup(grouped + 3))
        {
            grouped += 4;
        }

        if (grouped > b0)
        {
            // Activation rows in ggml's gemm groups: each super-block unpacked once for four of them.
            var r = r0;
            if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
            {
                for (; r + 4 <= r1; r += 4)
                {
                    for (var b = b0; b < grouped; b += 4)
                    {
                        FourRowsFourActsWide(w.Row(r), w.RowBytes, x, b, n, y + ((long)b * yStride) + r, yStride);
                    }
                }

                for (; r + 2 <= r1; r += 2)
                {
                    for (var b = b0; b < grouped; b += 4)
                    {
                        TwoRowsFourActsWide(w.Row(r), w.RowBytes, x, b, n, y + ((long)b * yStride) + r, yStride);
                    }
                }
            }

            for (; r < r1; r++)
            {
                for (var b = b0; b < grouped; b += 4)
                {
                    OneRowFourActs(w.Row(r), x, b, n, y + ((long)b * yStride) + r, yStride);
                }
            }
        }

        // The rest one activation row at a time, each group of four weight rows meeting all of them while in L1
        // (several sequences decoding together).
        var r4 = r0;
        for (; r4 + 4 <= r1; r4 += 4)
        {
            for (var b = grouped; b < end; b++)
            {
                var gemm = op.InGemmGroup(b);
                if (!gemm && b + 1 < end && !op.InGemmGroup(b + 1))
                {
                    // Two sequences decoding together: each weight super-block unpacked once for both.
                    if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
                    {
                        FourRowsGemvTwoActsWide(w, r4, x, b, n, y + ((long)b * yStride) + r4, yStride);
                    }
                    else
                    {
                        FourRowsGemvTwoActs(w, r4, x, b, n, y + ((long)b * yStride) + r4, yStride);
                    }

                    b++;
                    continue;
                }

                if (gemm)
                {
                    FourRows(w, r4, x, b, n, scratch);
                }
                else if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated)
                {
                    FourRowsGemvWide(w, r4, x, b, n, scratch);
                }
                else
                {
                    FourRowsGemv(w, r4, x, b, n, scratch);
                }

                for (var k = 0; k < 4; k++)
                {
                    y[((long)b * yStride) + r4 + k] = scratch[k];
                }
            }
        }

        for (; r4 < r1; r4++)
        {
            for (var b = grouped; b < end; b++)
            {
                y[((long)b * yStride) + r4] = Reference(w.Row(r4), x, b, n, op.InGemmGroup(b));
            }
        }
    }

    /// <summary>One weight row with four activation rows of a gemm group (accumulated every 64 elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRowFourActs(byte* wr, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QKPaired + ((long)b * n);
        var bs = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        Vector128<float> a = default, c = default;
        for (var i = 0; i < nb; i++, wr += BlockBytes, q += 256, bs += 16)
        {
            var sm = Avx2.ConvertToVector256Int16(Unpack(wr + 4).AsByte());
            var scales = Vector256.Create(sm.GetLower(), sm.GetLower()).AsByte();

            // Per activation, lane j: the minimums of the j-th 64 elements times its sums; transposed so that each
            // piece's vector holds the four activations.
            var mins = sm.GetUpper();
            var m0 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs));
            var m1 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + bss));
            var m2 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + (2 * bss)));
            var m3 = Sse2.MultiplyAddAdjacent(mins, PairSums(bs + (3 * bss)));
            Transpose(ref m0, ref m1, ref m2, ref m3);
            var d = Vector128.Create(dk[i], dk[i + nb], dk[i + (2 * nb)], dk[i + (3 * nb)]);
            var sd = d * f16[*(ushort*)wr];
            var smin = d * f16[*(ushort*)(wr + 2)];
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 0, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m0), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 1, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m1), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 2, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m2), smin, c);
            a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(FourActs(wr, 3, scales, q, n)), sd, a);
            c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(m3), smin, c);
        }

        var result = a - c;
        y[0] = result.GetElement(0);
        y[yStride] = result.GetElement(1);
        y[2 * yStride] = result.GetElement(2);
        y[3 * yStride] = result.GetElement(3);
    }

    /// <summary>
    /// <see cref="OneRowFourActs"/> for two weight rows at once, 512 bits wide: a register holds the same piece of both
    /// rows (row <paramref name="wa"/> in the low 256 bits) and meets the activation broadcast to both halves, so each
    /// byte product and scale multiply serves two (row, activation) pairs. Only each piece's integer total per row and
    /// activation leaves the integer side, and the float steps run on [row a's four activations | row b's], lane for lane
    /// the one-row kernel's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TwoRowsFourActsWide(byte* wa, long rowBytes, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QKPaired + ((long)b * n);
        var bs = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        var wb = wa + rowBytes;
        Vector256<float> a = default, c = default;
        for (var i = 0; i < nb; i++, wa += BlockBytes, wb += BlockBytes, q += 256, bs += 16)
        {
            var rows = new WideRows(f16, wa, wb, bs, bss, Both(Vector128.Create(dk[i], dk[i + nb], dk[i + (2 * nb)], dk[i + (3 * nb)])));
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(WidePiece(wa, wb, 0, rows.Scales, q, n)), rows.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(rows.M0), rows.Smin, c);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(WidePiece(wa, wb, 1, rows.Scales, q, n)), rows.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(rows.M1), rows.Smin, c);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(WidePiece(wa, wb, 2, rows.Scales, q, n)), rows.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(rows.M2), rows.Smin, c);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(WidePiece(wa, wb, 3, rows.Scales, q, n)), rows.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(rows.M3), rows.Smin, c);
        }

        var result = a - c;
        for (var k = 0; k < 4; k++)
        {
            y[k * yStride] = result.GetElement(k);
            y[(k * yStride) + 1] = result.GetElement(4 + k);
        }
    }

    /// <summary>
    /// <see cref="TwoRowsFourActsWide"/> for rows 0-1 and 2-3 of four: each activation piece is broadcast once for both
    /// pairs. Per pair the same integers and float steps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRowsFourActsWide(byte* w0, long rowBytes, Activations x, int b, int n, float* y, int yStride)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QKPaired + ((long)b * n);
        var bs = x.BSums + ((long)b * n / 16);
        var dk = x.DK + ((long)b * nb);
        var bss = n / 16;
        var w1 = w0 + rowBytes;
        var w2 = w1 + rowBytes;
        var w3 = w2 + rowBytes;
        Vector256<float> a = default, c = default, e = default, f = default;
        for (var i = 0; i < nb; i++, w0 += BlockBytes, w1 += BlockBytes, w2 += BlockBytes, w3 += BlockBytes, q += 256, bs += 16)
        {
            var d = Both(Vector128.Create(dk[i], dk[i + nb], dk[i + (2 * nb)], dk[i + (3 * nb)]));
            var p01 = new WideRows(f16, w0, w1, bs, bss, d);
            var p23 = new WideRows(f16, w2, w3, bs, bss, d);
            WidePieces(w0, w1, w2, w3, 0, p01.Scales, p23.Scales, q, n, out var i01, out var i23);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i01), p01.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p01.M0), p01.Smin, c);
            e = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i23), p23.Sd, e);
            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p23.M0), p23.Smin, f);
            WidePieces(w0, w1, w2, w3, 1, p01.Scales, p23.Scales, q, n, out i01, out i23);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i01), p01.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p01.M1), p01.Smin, c);
            e = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i23), p23.Sd, e);
            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p23.M1), p23.Smin, f);
            WidePieces(w0, w1, w2, w3, 2, p01.Scales, p23.Scales, q, n, out i01, out i23);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i01), p01.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p01.M2), p01.Smin, c);
            e = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i23), p23.Sd, e);
            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p23.M2), p23.Smin, f);
            WidePieces(w0, w1, w2, w3, 3, p01.Scales, p23.Scales, q, n, out i01, out i23);
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i01), p01.Sd, a);
            c = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p01.M3), p01.Smin, c);
            e = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i23), p23.Sd, e);
            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p23.M3), p23.Smin, f);
        }

        var r01 = a - c;
        var r23 = e - f;
        for (var k = 0; k < 4; k++)
        {
            y[k * yStride] = r01.GetElement(k);
            y[(k * yStride) + 1] = r01.GetElement(4 + k);
            y[(k * yStride) + 2] = r23.GetElement(k);
            y[(k * yStride) + 3] = r23.GetElement(4 + k);
        }
    }

    /// <summary>
    /// One super-block of two weight rows for four activations, as <see cref="TwoRowsFourActsWide"/> prepares it: both
    /// rows' scales for <see cref="WidePiece"/>, the minimums' integers per piece and the two float scales, each as
    /// [row a's four activations | row b's].
    /// </summary>
    private readonly struct WideRows
    {
        public readonly Vector512<byte> Scales;
        public readonly Vector256<int> M0, M1, M2, M3;
        public readonly Vector256<float> Sd, Smin;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public WideRows(float* f16, byte* wa, byte* wb, short* bs, int bss, Vector256<float> d)
        {
            var smA = Avx2.ConvertToVector256Int16(Unpack(wa + 4).AsByte());
            var smB = Avx2.ConvertToVector256Int16(Unpack(wb + 4).AsByte());
            Scales = Avx512F.InsertVector256(
                Vector256.Create(smA.GetLower(), smA.GetLower()).ToVector512Unsafe(), Vector256.Create(smB.GetLower(), smB.GetLower()), 1).AsByte();
            var mins = Vector256.Create(smA.GetUpper(), smB.GetUpper());
            M0 = Avx2.MultiplyAddAdjacent(mins, Both(PairSums(bs)));
            M1 = Avx2.MultiplyAddAdjacent(mins, Both(PairSums(bs + bss)));
            M2 = Avx2.MultiplyAddAdjacent(mins, Both(PairSums(bs + (2 * bss))));
            M3 = Avx2.MultiplyAddAdjacent(mins, Both(PairSums(bs + (3 * bss))));
            Transpose(ref M0, ref M1, ref M2, ref M3);
            Sd = d * Vector256.Create(Vector128.Create(f16[*(ushort*)wa]), Vector128.Create(f16[*(ushort*)wb]));
            Smin = d * Vector256.Create(Vector128.Create(f16[*(ushort*)(wa + 2)]), Vector128.Create(f16[*(ushort*)(wb + 2)]));
        }
    }

    /// <summary><see cref="WidePiece"/> for two pairs of rows, each activation piece broadcast once for both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidePieces(byte* w0, byte* w1, byte* w2, byte* w3, int j, Vector512<byte> scales01, Vector512<byte> scales23, sbyte* q, int n, out Vector256<int> i01, out Vector256<int> i23)
    {
        var a1 = WideNibbles(w0 + 16 + (32 * j), w1 + 16 + (32 * j));
        var a2 = WideNibbles(w0 + 32 + (32 * j), w1 + 32 + (32 * j));
        var c1 = WideNibbles(w2 + 16 + (32 * j), w3 + 16 + (32 * j));
        var c2 = WideNibbles(w2 + 32 + (32 * j), w3 + 32 + (32 * j));
        var lane = Vector256.Create(Vector128.Create((short)(0x0100 + (0x0202 * 2 * j))), Vector128.Create((short)(0x0100 + (0x0202 * ((2 * j) + 1))))).AsByte();
        var control = Avx512F.InsertVector256(lane.ToVector512Unsafe(), lane, 1);
        var sa = Avx512BW.Shuffle(scales01, control).AsInt16();
        var sc = Avx512BW.Shuffle(scales23, control).AsInt16();
        var o = q + (64 * j);
        Vector512<int> p0, p1, p2, p3, u0, u1, u2, u3;
        {
            var ylo = Q8Kernels.Broadcast256(o);
            var yhi = Q8Kernels.Broadcast256(o + 32);
            p0 = WideDot(a1, a2, ylo, yhi, sa);
            u0 = WideDot(c1, c2, ylo, yhi, sc);
        }

        {
            var ylo = Q8Kernels.Broadcast256(o + n);
            var yhi = Q8Kernels.Broadcast256(o + n + 32);
            p1 = WideDot(a1, a2, ylo, yhi, sa);
            u1 = WideDot(c1, c2, ylo, yhi, sc);
        }

        {
            var ylo = Q8Kernels.Broadcast256(o + (2 * n));
            var yhi = Q8Kernels.Broadcast256(o + (2 * n) + 32);
            p2 = WideDot(a1, a2, ylo, yhi, sa);
            u2 = WideDot(c1, c2, ylo, yhi, sc);
        }

        {
            var ylo = Q8Kernels.Broadcast256(o + (3 * n));
            var yhi = Q8Kernels.Broadcast256(o + (3 * n) + 32);
            p3 = WideDot(a1, a2, ylo, yhi, sa);
            u3 = WideDot(c1, c2, ylo, yhi, sc);
        }

        i01 = HalfTotals(p0, p1, p2, p3);
        i23 = HalfTotals(u0, u1, u2, u3);
    }

    /// <summary>Per 256-bit half, the lane totals of four vectors: [half 0 of p0..p3 | half 1 of p0..p3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> HalfTotals(Vector512<int> p0, Vector512<int> p1, Vector512<int> p2, Vector512<int> p3)
    {
        // Pairs, then quads within 128-bit lanes, then the two 128-bit lanes of each half.
        var s01 = Avx512F.UnpackLow(p0, p1) + Avx512F.UnpackHigh(p0, p1);
        var s23 = Avx512F.UnpackLow(p2, p3) + Avx512F.UnpackHigh(p2, p3);
        var s = Avx512F.UnpackLow(s01.AsInt64(), s23.AsInt64()).AsInt32() + Avx512F.UnpackHigh(s01.AsInt64(), s23.AsInt64()).AsInt32();
        s += Avx512F.Shuffle4x128(s, s, 0b10_11_00_01);
        return Avx512F.Shuffle4x128(s, s, 0b00_00_10_00).GetLower();
    }

    /// <summary>A piece of two rows (<see cref="WideNibbles"/> w1, w2) with paired activations broadcast to both halves: <see cref="PairedDot"/> twice over.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> WideDot(Vector512<byte> w1, Vector512<byte> w2, Vector512<sbyte> ylo, Vector512<sbyte> yhi, Vector512<short> sc) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w1, ylo) + Avx512BW.MultiplyAddAdjacent(w2, yhi), sc);

    /// <summary>
    /// Piece <paramref name="j"/> of both rows' super-blocks with four activation rows: the integer totals as
    /// [row a's four activations | row b's] (<paramref name="scales"/>: both rows' eight scales, each in two 128-bit lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> WidePiece(byte* wa, byte* wb, int j, Vector512<byte> scales, sbyte* q, int n)
    {
        var w1 = WideNibbles(wa + 16 + (32 * j), wb + 16 + (32 * j));
        var w2 = WideNibbles(wa + 32 + (32 * j), wb + 32 + (32 * j));
        var lane = Vector256.Create(Vector128.Create((short)(0x0100 + (0x0202 * 2 * j))), Vector128.Create((short)(0x0100 + (0x0202 * ((2 * j) + 1))))).AsByte();
        var sc = Avx512BW.Shuffle(scales, Avx512F.InsertVector256(lane.ToVector512Unsafe(), lane, 1)).AsInt16();
        var o = q + (64 * j);
        var p0 = WideDot(w1, w2, Q8Kernels.Broadcast256(o), Q8Kernels.Broadcast256(o + 32), sc);
        var p1 = WideDot(w1, w2, Q8Kernels.Broadcast256(o + n), Q8Kernels.Broadcast256(o + n + 32), sc);
        var p2 = WideDot(w1, w2, Q8Kernels.Broadcast256(o + (2 * n)), Q8Kernels.Broadcast256(o + (2 * n) + 32), sc);
        var p3 = WideDot(w1, w2, Q8Kernels.Broadcast256(o + (3 * n)), Q8Kernels.Broadcast256(o + (3 * n) + 32), sc);
        return HalfTotals(p0, p1, p2, p3);
    }

    /// <summary><see cref="Q8Kernels.Nibbles"/> of 16 bytes of each row: [row a's low nibbles, its high | row b's low, its high].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> WideNibbles(byte* pa, byte* pb)
    {
        var both = Avx512F.InsertVector256(Avx2.BroadcastVector128ToVector256(pa).ToVector512Unsafe(), Avx2.BroadcastVector128ToVector256(pb), 1);
        var shifts = Vector512.Create((ushort)0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
        return Avx512BW.ShiftRightLogicalVariable(both.AsUInt16(), shifts).AsByte() & Vector512.Create((byte)0x0F);
    }

    /// <summary>A 128-bit vector in both halves of a 256-bit one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Both<T>(Vector128<T> v) => Vector256.Create(v, v);

    /// <summary><see cref="Transpose(ref Vector128{int}, ref Vector128{int}, ref Vector128{int}, ref Vector128{int})"/> in each 128-bit half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector256<int> v0, ref Vector256<int> v1, ref Vector256<int> v2, ref Vector256<int> v3)
    {
        var lo01 = Avx2.UnpackLow(v0, v1).AsInt64();
        var lo23 = Avx2.UnpackLow(v2, v3).AsInt64();
        var hi01 = Avx2.UnpackHigh(v0, v1).AsInt64();
        var hi23 = Avx2.UnpackHigh(v2, v3).AsInt64();
        v0 = Avx2.UnpackLow(lo01, lo23).AsInt32();
        v1 = Avx2.UnpackHigh(lo01, lo23).AsInt32();
        v2 = Avx2.UnpackLow(hi01, hi23).AsInt32();
        v3 = Avx2.UnpackHigh(hi01, hi23).AsInt32();
    }

    /// <summary>Piece <paramref name="j"/> (64 elements) of one weight super-block with four activation rows: four integer totals (<see cref="PairedDot"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> FourActs(byte* blk, int j, Vector256<byte> scales, sbyte* q, int n)
    {
        var w1 = Q8Kernels.Nibbles(blk + 16 + (32 * j));
        var w2 = Q8Kernels.Nibbles(blk + 32 + (32 * j));
        var sc = PieceScales(scales, j);
        var o = q + (64 * j);
        var p0 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p1 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p2 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        o += n;
        var p3 = PairedDot(w1, w2, Avx.LoadVector256(o), Avx.LoadVector256(o + 32), sc);
        return Sum4(p0, p1, p2, p3);
    }

    /// <summary>Four weight rows with one activation row of a gemm group (accumulated every 64 elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRows(Matrix w, int r, Activations x, int b, int n, float* result)
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
            var s16 = PairSums(bsums);
            var sm0 = Avx2.ConvertToVector256Int16(Unpack(w0 + 4).AsByte());
            var sm1 = Avx2.ConvertToVector256Int16(Unpack(w1 + 4).AsByte());
            var sm2 = Avx2.ConvertToVector256Int16(Unpack(w2 + 4).AsByte());
            var sm3 = Avx2.ConvertToVector256Int16(Unpack(w3 + 4).AsByte());
            var m0 = Sse2.MultiplyAddAdjacent(sm0.GetUpper(), s16);
            var m1 = Sse2.MultiplyAddAdjacent(sm1.GetUpper(), s16);
            var m2 = Sse2.MultiplyAddAdjacent(sm2.GetUpper(), s16);
            var m3 = Sse2.MultiplyAddAdjacent(sm3.GetUpper(), s16);
            Transpose(ref m0, ref m1, ref m2, ref m3);
            var sc0 = Vector256.Create(sm0.GetLower(), sm0.GetLower()).AsByte();
            var sc1 = Vector256.Create(sm1.GetLower(), sm1.GetLower()).AsByte();
            var sc2 = Vector256.Create(sm2.GetLower(), sm2.GetLower()).AsByte();
            var sc3 = Vector256.Create(sm3.GetLower(), sm3.GetLower()).AsByte();
            var d = dk[i];
            var sd = Halves(f16, w0, stride, 0) * d;
            var smin = Halves(f16, w0, stride, 2) * d;
            for (var j = 0; j < 4; j++)
            {
                var ylo = Avx.LoadVector256(q + (64 * j));
                var yhi = Avx.LoadVector256(q + (64 * j) + 32);
                var isb = Sum4(Pair(w0, j, sc0, ylo, yhi), Pair(w1, j, sc1, ylo, yhi), Pair(w2, j, sc2, ylo, yhi), Pair(w3, j, sc3, ylo, yhi));
                a = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(isb), sd, a);
                var mj = j switch { 0 => m0, 1 => m1, 2 => m2, _ => m3 };
                c = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(mj), smin, c);
            }
        }

        Vector128.Store(a - c, result);
    }

    /// <summary>ggml's kmask unpacking of the 12 packed bytes: bytes 0-7 the eight scales, 8-15 the eight minimums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Unpack(byte* packed)
    {
        const uint kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
        uint a = *(uint*)packed, b = *(uint*)(packed + 4), c = *(uint*)(packed + 8);
        return Vector128.Create(a & kmask1, (c & kmask2) | (((a >> 6) & kmask3) << 4), b & kmask1, ((c >> 4) & kmask2) | (((b >> 6) & kmask3) << 4));
    }

    /// <summary>Eight int32 vectors' lane totals, four vectors at once: lane k is the total of <paramref name="p0"/>..<paramref name="p3"/>'s k-th.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector256<int> p0, Vector256<int> p1, Vector256<int> p2, Vector256<int> p3)
    {
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p0, p1), Avx2.HorizontalAdd(p2, p3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>The fp16 at <paramref name="offset"/> of four consecutive rows' super-blocks (their d or dmin), as floats (<paramref name="f16"/>: <see cref="Fp16.Table"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Halves(float* f16, byte* w0, long stride, int offset)
    {
        // The table comes from the caller: read here, Fp16's static base would be fetched by a helper call inside the
        // kernels' loops (they are compiled before Fp16 is initialised), spilling every live vector around it.
        var p = w0 + offset;
        return Vector128.Create(f16[*(ushort*)p], f16[*(ushort*)(p + stride)], f16[*(ushort*)(p + (2 * stride))], f16[*(ushort*)(p + (3 * stride))]);
    }

    /// <summary>Four int32 vectors' lane totals: lane k is the total of the k-th vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector128<int> p0, Vector128<int> p1, Vector128<int> p2, Vector128<int> p3) =>
        Ssse3.HorizontalAdd(Ssse3.HorizontalAdd(p0, p1), Ssse3.HorizontalAdd(p2, p3));

    /// <summary>The sixteen 16-element sums of an activation super-block added in pairs: its eight 32-element sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> PairSums(short* bsums) => Ssse3.HorizontalAdd(Sse2.LoadVector128(bsums), Sse2.LoadVector128(bsums + 8));

    /// <summary>Transposes a 4×4 block of int32 held as four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector128<int> v0, ref Vector128<int> v1, ref Vector128<int> v2, ref Vector128<int> v3)
    {
        var lo01 = Sse2.UnpackLow(v0, v1).AsInt64();
        var lo23 = Sse2.UnpackLow(v2, v3).AsInt64();
        var hi01 = Sse2.UnpackHigh(v0, v1).AsInt64();
        var hi23 = Sse2.UnpackHigh(v2, v3).AsInt64();
        v0 = Sse2.UnpackLow(lo01, lo23).AsInt32();
        v1 = Sse2.UnpackHigh(lo01, lo23).AsInt32();
        v2 = Sse2.UnpackLow(hi01, hi23).AsInt32();
        v3 = Sse2.UnpackHigh(hi01, hi23).AsInt32();
    }

    /// <summary>The same arithmetic one element at a time: exact integers, then ggml's float accumulation order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Reference(byte* w, Activations x, int b, int n, bool gemm)
    {
        var f16 = Fp16.Table;
        var nb = n / 256;
        var q = x.QK + ((long)b * n);
        var dk = x.DK + ((long)b * nb);
        var bsums = x.BSums + ((long)b * n / 16);
        var acc = 0f;
        var accm = 0f;
        var sc = stackalloc int[8];
        var mn = stackalloc int[8];
        for (var i = 0; i < nb; i++, w += BlockBytes, q += 256, bsums += 16)
        {
            for (var j = 0; j < 8; j++)
            {
                Dequantizer.ScaleMinK4(j, w + 4, out sc[j], out mn[j]);
            }

            var d = f16[*(ushort*)(w)] * dk[i];
            var dmin = f16[*(ushort*)(w + 2)] * dk[i];
            int isum = 0, iminTotal = 0;
            for (var sb = 0; sb < 4; sb++)
            {
                var qs = w + 16 + (32 * sb);
                var y = q + (64 * sb);
                int lo = 0, hi = 0;
                for (var l = 0; l < 32; l++)
                {
                    lo += (qs[l] & 0xF) * y[l];
                    hi += (qs[l] >> 4) * y[32 + l];
                }

                var isb = (sc[2 * sb] * lo) + (sc[(2 * sb) + 1] * hi);
                var s0 = bsums[4 * sb] + bsums[(4 * sb) + 1];
                var s1 = bsums[(4 * sb) + 2] + bsums[(4 * sb) + 3];
                var imin = (mn[2 * sb] * s0) + (mn[(2 * sb) + 1] * s1);
                if (gemm)
                {
                    acc = MathF.FusedMultiplyAdd(isb, d, acc);
                    accm = MathF.FusedMultiplyAdd(imin, dmin, accm);
                }
                else
                {
                    isum += isb;
                    iminTotal += imin;
                }
            }

            if (!gemm)
            {
                acc = MathF.FusedMultiplyAdd(isum, d, acc);
                accm = MathF.FusedMultiplyAdd(iminTotal, dmin, accm);
            }
        }

        return acc - accm;
    }
}
