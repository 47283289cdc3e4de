using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The 32-element block types against Q8_0 / Q8_1 activations, as ggml's AVX2 vec_dot kernels compute them (tinyBLAS
/// does the same per block for Q8_0/Q4_0/Q5_0, so one order serves both paths): per block, eight int32 lanes each
/// summing four adjacent products exactly, converted to float and accumulated with one FMA by the product of the
/// two fp16 scales; the eight lanes are reduced by hsum_float_8 at the end. Q4_1/Q5_1 add their minimum through the
/// activation sums in a scalar fused accumulator. Repacked Q4_0 (llama.cpp's q4_0_8x8) sums each block's integers
/// whole into one float per row. The portable variants compute the same lanes without AVX2.
/// <para>
/// Speed comes from sharing work, not from changing it: one activation row is multiplied with four weight rows at a
/// time (four independent FMA chains), several activation rows meet each unpacked weight block (prompt processing).
/// The integer lanes are ggml's, reached by fewer instructions where exact integers allow it: Q4_0/Q5_0 multiply the
/// stored unsigned quant and subtract the offset times the activations (no sign steps), and with AVX-512 the nibbles
/// and Q5 high bits unpack in two or three instructions each.
/// </para>
/// </summary>
internal static unsafe class Q8Kernels
{
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// How far ahead (bytes) generation kernels ask for weights into L2. A single core streaming weights from memory
    /// otherwise keeps too few requests in flight: 8 KiB ahead about doubles a Q8_0 gemv's bandwidth (10 → 19 GB/s),
    /// and 16 KiB stalls a few per cent less again (Zen 4, 1 MiB L2; 32 KiB measured the same as 16). On Zen 5 (1 MiB
    /// L2) 64 KiB is better again: a token of the Qwen2.5-0.5B Q8_0 and Llama-3.2-1B Q4_K_M shapes 5-6% less CPU time
    /// than at 16 KiB (token-cost, five interleaved runs each); without software prefetch a Q8_0 gemv reads 8.5 GB/s.
    /// </summary>
    public const int PrefetchDistance = 65536;

    /// <summary>
    /// Asks for the block of <paramref name="bytes"/> at <paramref name="block"/> + <see cref="PrefetchDistance"/> into L2:
    /// every cache line of it (a K-quant super-block spans three to five), so a row streamed block by block is fetched whole.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchBlock(byte* block, int bytes)
    {
        var p = block + PrefetchDistance;
        for (var o = 0; o < bytes; o += 64)
        {
            Sse.Prefetch1(p + o);
        }

        Sse.Prefetch1(p + bytes - 1);
    }

    /// <summary><see cref="PrefetchBlock"/> for the blocks at <paramref name="w0"/> of four consecutive rows <paramref name="stride"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchFourRows(byte* w0, long stride, int bytes)
    {
        PrefetchBlock(w0, bytes);
        PrefetchBlock(w0 + stride, bytes);
        PrefetchBlock(w0 + (2 * stride), bytes);
        PrefetchBlock(w0 + (3 * stride), bytes);
    }

    /// <summary>
    /// Asks for block <paramref name="i"/> of four rows <see cref="PrefetchDistance"/> bytes ahead. Blocks of 32 bytes
    /// or fewer are asked for every other one, which still touches each cache line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchFourRows<T>(byte* w0, long stride, int i)
        where T : IBlock
    {
        if (T.Bytes > 32 || (i & 1) == 0)
        {
            Sse.Prefetch1(w0 + PrefetchDistance);
            Sse.Prefetch1(w0 + stride + PrefetchDistance);
            Sse.Prefetch1(w0 + (2 * stride) + PrefetchDistance);
            Sse.Prefetch1(w0 + (3 * stride) + PrefetchDistance);
        }
    }

    public static readonly MatKernel Q8_0 = new Kernel<Q8_0Block>(simd: true, repacked: false);
    public static readonly MatKernel Q4_0 = new Kernel<Q4_0Block>(simd: true, repacked: false);
    public static readonly MatKernel Q5_0 = new Kernel<Q5_0Block>(simd: true, repacked: false);
    public static readonly MatKernel Q4_1 = new Kernel<Q4_1Block>(simd: true, repacked: false);
    public static readonly MatKernel Q5_1 = new Kernel<Q5_1Block>(simd: true, repacked: false);
    public static readonly MatKernel Q4_0Repacked = new Kernel<Q4_0Block>(simd: true, repacked: true);
    public static readonly MatKernel Q8_0Portable = new Kernel<Q8_0Block>(simd: false, repacked: false);
    public static readonly MatKernel Q4_0Portable = new Kernel<Q4_0Block>(simd: false, repacked: false);
    public static readonly MatKernel Q5_0Portable = new Kernel<Q5_0Block>(simd: false, repacked: false);
    public static readonly MatKernel Q4_1Portable = new Kernel<Q4_1Block>(simd: false, repacked: false);
    public static readonly MatKernel Q5_1Portable = new Kernel<Q5_1Block>(simd: false, repacked: false);
    public static readonly MatKernel Q4_0RepackedPortable = new Kernel<Q4_0Block>(simd: false, repacked: true);

    /// <summary>A 32-element block layout: its size, whether its quants are signed, and how ggml unpacks them.</summary>
    private interface IBlock
    {
        static abstract int Bytes { get; }

        /// <summary>False for Q4_1/Q5_1: unsigned quants plus a minimum (Q8_1 activations).</summary>
        static abstract bool Signed { get; }

        /// <summary>
        /// What ggml subtracts from the stored unsigned quant (Q4_0: 8, Q5_0: 16); 0 when <see cref="Unpack"/> gives
        /// the value itself (Q8_0's signed bytes, the min types' unsigned ones).
        /// </summary>
        static abstract int Offset { get; }

        /// <summary>The 32 quants as stored: Q8_0's signed bytes, otherwise unsigned (before <see cref="Offset"/>).</summary>
        static abstract Vector256<byte> Unpack(byte* b);

        /// <summary>The same quants as integers, in element order.</summary>
        static abstract void Quants(byte* b, Span<int> q);
    }

    private readonly struct Q8_0Block : IBlock
    {
        public static int Bytes => 34;

        public static bool Signed => true;

        public static int Offset => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b) => Avx.LoadVector256(b + 2);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Quants(byte* b, Span<int> q)
        {
            for (var j = 0; j < 32; j++)
            {
                q[j] = ((sbyte*)(b + 2))[j];
            }
        }
    }

    private readonly struct Q4_0Block : IBlock
    {
        public static int Bytes => 18;

        public static bool Signed => true;

        public static int Offset => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b) => Nibbles(b + 2);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Quants(byte* b, Span<int> q)
        {
            for (var j = 0; j < 16; j++)
            {
                q[j] = (b[2 + j] & 0xF) - 8;
                q[j + 16] = (b[2 + j] >> 4) - 8;
            }
        }
    }

    private readonly struct Q5_0Block : IBlock
    {
        public static int Bytes => 22;

        public static bool Signed => true;

        public static int Offset => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b) => Nibbles(b + 6) | FifthBits(b + 2);

        public static void Quants(byte* b, Span<int> q) => Five(b + 6, *(uint*)(b + 2), 16, q);
    }

    private readonly struct Q4_1Block : IBlock
    {
        public static int Bytes => 20;

        public static bool Signed => false;

        public static int Offset => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b) => Nibbles(b + 4);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Quants(byte* b, Span<int> q)
        {
            for (var j = 0; j < 16; j++)
            {
                q[j] = b[4 + j] & 0xF;
                q[j + 16] = b[4 + j] >> 4;
            }
        }
    }

    private readonly struct Q5_1Block : IBlock
    {
        public static int Bytes => 24;

        public static bool Signed => false;

        public static int Offset => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b) => Nibbles(b + 8) | FifthBits(b + 4);

        public static void Quants(byte* b, Span<int> q) => Five(b + 8, *(uint*)(b + 4), 0, q);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Five(byte* qs, uint qh, int offset, Span<int> q)
    {
        for (var j = 0; j < 16; j++)
        {
            q[j] = ((qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10)) - offset;
            q[j + 16] = ((qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - offset;
        }
    }

    /// <summary>
    /// The 32 bytes at <paramref name="p"/> in both 256-bit halves, by a load and an insert, for the 512-bit kernels
    /// that meet two weight rows at once. Not Avx512F.BroadcastVector256ToVector512: .NET 10.0.12 folds it into the
    /// instruction that uses it and the products come out wrong (seen in the Q6_K and Q4_K wide kernels, caught by
    /// PromptTileTests and QuantTypeTests); kept in a local used twice it happened to stay a separate vbroadcasti64x4,
    /// too fragile for exact arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<sbyte> Broadcast256(void* p)
    {
        var v = Avx.LoadVector256((sbyte*)p);
        return Avx512F.InsertVector256(v.ToVector512Unsafe(), v, 1);
    }

    /// <summary>bytes_from_nibbles_32: low nibbles of 16 bytes, then their high nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Nibbles(byte* p)
    {
        if (Avx512BW.VL.IsSupported)
        {
            // The 16 bytes in both halves, the upper half shifted by 4: one load, one shift, one mask (not five).
            var both = Avx2.BroadcastVector128ToVector256(p).AsUInt16();
            var shifts = Vector256.Create((ushort)0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
            return Avx512BW.VL.ShiftRightLogicalVariable(both, shifts).AsByte() & Vector256.Create((byte)0x0F);
        }

        var raw = Sse2.LoadVector128(p);
        var low = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & low, Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & low);
    }

    /// <summary>Bit j of the 32 bits at <paramref name="p"/> as 0x10 in byte j: the fifth bit of the Q5 quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> FifthBits(byte* p)
    {
        if (Avx512Vbmi.VL.IsSupported)
        {
            // vpmultishiftqb: byte j takes the eight bits of its qword starting at bit j - 4 (mod 64), which puts bit j
            // of the word (broadcast to both halves of every qword) at bit 4.
            var control = Vector256.Create(
                (byte)60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27);
            return Avx512Vbmi.VL.MultiShift(control, Avx2.BroadcastScalarToVector256((uint*)p).AsUInt64()) & Vector256.Create((byte)0x10);
        }

        var v = Avx2.Shuffle(Vector256.Create(*(uint*)p).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        return Avx2.CompareEqual(v | Vector256.Create(0x7fbfdfeff7fbfdfeUL).AsByte(), Vector256<byte>.AllBitsSet) & Vector256.Create((byte)0x10);
    }

    /// <summary>
    /// Eight int32 lanes of four products each, the integers ggml's mul_sum_i8_pairs / mul_sum_us8_pairs produce.
    /// Q8_0 multiplies |q| by y carrying q's sign, as ggml does; the offset types multiply the stored unsigned quant
    /// and subtract offset × y (<paramref name="offsetY"/>, once per activation block, from <see cref="OffsetSums"/>
    /// with the same <paramref name="vnni"/>): the same exact integers without the sign steps. Without VNNI the
    /// byte products are summed in pairs to 16 bits (every intermediate fits: 31 × 127 × 2 before the offset,
    /// 16 × 127 × 2 after) and the pairs to 32; with <paramref name="vnni"/> one vpdpbusd sums each four into the
    /// 32-bit lane exactly, starting from −offset × the four activations' sum.
    /// <para>
    /// Only the generation kernels ask for vpdpbusd: .NET 10 reaches it through AVX-VNNI alone (no AVX512-VNNI class;
    /// Avx10v1 is false on Zen 4), whose VEX encoding confines its operands to ymm0-15. The prompt tiles keep eight or
    /// more accumulators live besides four activation blocks, and with half the registers the JIT spills them every
    /// block: measured interleaved against the maddubs form, the Q8_0 and Q5_0 prompt kernels ran 10-12% slower.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Lanes<T>(Vector256<byte> q, Vector256<sbyte> y, Vector256<int> offsetY, bool vnni = false)
        where T : IBlock
    {
        if (vnni && AvxVnni.IsSupported)
        {
            return T.Signed && T.Offset == 0
                ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Avx2.Abs(q.AsSByte()), Avx2.Sign(y, q.AsSByte()))
                : AvxVnni.MultiplyWideningAndAdd(offsetY, q, y);
        }

        Vector256<short> dot;
        if (T.Signed && T.Offset == 0)
        {
            dot = Avx2.MultiplyAddAdjacent(Avx2.Abs(q.AsSByte()), Avx2.Sign(y, q.AsSByte()));
        }
        else
        {
            dot = Avx2.MultiplyAddAdjacent(q, y);
            if (T.Offset != 0)
            {
                dot -= offsetY.AsInt16();
            }
        }

        return Avx2.MultiplyAddAdjacent(dot, Vector256.Create((short)1));
    }

    /// <summary>
    /// The offset times the activations, for <see cref="Lanes"/> (nothing for types without an offset): each pair's sum
    /// as 16-bit lanes, or with <paramref name="vnni"/> the negated sum of each four as 32-bit lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OffsetSums<T>(Vector256<sbyte> y, bool vnni = false)
        where T : IBlock
    {
        if (T.Offset == 0)
        {
            return default;
        }

        return vnni && AvxVnni.IsSupported
            ? Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)T.Offset), y)
            : Avx2.MultiplyAddAdjacent(Vector256.Create((byte)T.Offset), y).AsInt32();
    }

    /// <summary>The same eight lanes computed one element at a time (machines without AVX2, and the tests' reference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<int> LanesPortable<T>(byte* b, sbyte* y)
        where T : IBlock
    {
        Span<int> q = stackalloc int[32];
        T.Quants(b, q);
        var lanes = stackalloc int[8];
        for (var l = 0; l < 8; l++)
        {
            var sum = 0;
            for (var e = 4 * l; e < (4 * l) + 4; e++)
            {
                sum += q[e] * y[e];
            }

            lanes[l] = sum;
        }

        return Vector256.Load(lanes);
    }

    private sealed class Kernel<T>(bool simd, bool repacked) : MatKernel
        where T : IBlock
    {
        public override ActivationKind Kind => T.Signed ? ActivationKind.Q8_0 : ActivationKind.Q8_1;

        /// <summary>Whether the prompt tile runs 512 bits wide (<see cref="WideFourByFour"/>).</summary>
        private static bool Wide => Avx512BW.IsSupported && Vector512.IsHardwareAccelerated;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            if (simd && repacked)
            {
                // Four weight rows at a time, each activation block loaded once for them and their four block
                // totals reduced together, one float lane per row.
                var r4 = r0;
                for (; r4 + 4 <= r1; r4 += 4)
                {
                    for (var b = b0; b < b0 + count; b++)
                    {
                        FourRowsRepacked(w, r4, x, b, n, y + ((long)b * yStride) + r4);
                    }
                }

                r0 = r4;
            }

            if (!simd || repacked)
            {
                for (var r = r0; r < r1; r++)
                {
                    for (var b = b0; b < b0 + count; b++)
                    {
                        y[((long)b * yStride) + r] = repacked ? DotRepacked(w.Row(r), x, b, n) : DotOne(w.Row(r), x, b, n);
                    }
                }

                return;
            }

            if (count == 1 || (!op.Batched && count > 1))
            {
                // Generation: one token, or one token of each of several sequences. Weights stream from memory, so each
                // group of four rows meets every activation row (two at a time) while it is in L1.
                var r = r0;
                for (; r + 4 <= r1; r += 4)
                {
                    var b = b0;
                    if (T.Signed && Wide)
                    {
                        // Four or more sequences: the prompt's 512-bit tile, whose lanes and float steps are the
                        // generation kernels' (PromptTileTests), at about twice the products per instruction.
                        for (; b + 4 <= b0 + count; b += 4)
                        {
                            WideFourByFour(w.Row(r), w.RowBytes, x, b, n, y + ((long)b * yStride) + r, yStride, prefetch: true);
                        }
                    }

                    if (T.Signed && Avx512F.VL.IsSupported)
                    {
                        // Sixteen accumulators fit AVX-512's 32 vector registers: each block of the four rows is
                        // unpacked once for four sequences, not once per pair.
                        for (; b + 4 <= b0 + count; b += 4)
                        {
                            FourRowsFourActs(w, r, x, b, n, y + ((long)b * yStride) + r, yStride);
                        }
                    }

                    for (; b + 2 <= b0 + count; b += 2)
                    {
                        FourRowsTwoActs(w, r, x, b, n, y + ((long)b * yStride) + r, yStride);
                    }

                    if (b < b0 + count)
                    {
                        FourRows(w, r, x, b, n, y + ((long)b * yStride) + r);
                    }
                }

                for (; r < r1; r++)
                {
                    for (var b = b0; b < b0 + count; b++)
                    {
                        y[((long)b * yStride) + r] = DotOne(w.Row(r), x, b, n);
                    }
                }

                return;
            }

            if (count < 4)
            {
                for (var b = b0; b < b0 + count; b++)
                {
                    var r = r0;
                    for (; r + 4 <= r1; r += 4)
                    {
                        FourRows(w, r, x, b, n, y + ((long)b * yStride) + r);
                    }

                    for (; r < r1; r++)
                    {
                        y[((long)b * yStride) + r] = DotOne(w.Row(r), x, b, n);
                    }
                }

                return;
            }

            if (T.Signed && T.Offset != 0 && Avx512F.VL.IsSupported && !Wide)
            {
                // Q4_0/Q5_0 where 512-bit vectors are slow or missing: four weight rows by four activation rows, each
                // activation block and its offset sums formed once for four rows, not two (in-cache Q5_0 prompt
                // products 16-28% faster; Q8_0 measured slower so, and stays on the two-row tile).
                var r4 = r0;
                for (; r4 + 4 <= r1; r4 += 4)
                {
                    var b = b0;
                    for (; b + 4 <= b0 + count; b += 4)
                    {
                        FourRowsFourActs(w, r4, x, b, n, y + ((long)b * yStride) + r4, yStride);
                    }

                    for (; b < b0 + count; b++)
                    {
                        FourRows(w, r4, x, b, n, y + ((long)b * yStride) + r4);
                    }
                }

                r0 = r4;
            }

            if (T.Signed && Wide)
            {
                // Two weight rows share each 512-bit register (see WideFourByFour), four rows by four activations per
                // tile.
                var r4 = r0;
                for (; r4 + 4 <= r1; r4 += 4)
                {
                    var b = b0;
                    for (; b + 4 <= b0 + count; b += 4)
                    {
                        WideFourByFour(w.Row(r4), w.RowBytes, x, b, n, y + ((long)b * yStride) + r4, yStride, prefetch: false);
                    }

                    for (; b < b0 + count; b++)
                    {
                        FourRows(w, r4, x, b, n, y + ((long)b * yStride) + r4);
                    }
                }

                r0 = r4;
            }

            var r2 = r0;
            for (; r2 + 2 <= r1; r2 += 2)
            {
                var b = b0;
                for (; b + 4 <= b0 + count; b += 4)
                {
                    TwoByFour(w.Row(r2), w.RowBytes, x, b, n, y + ((long)b * yStride) + r2, yStride);
                }

                for (; b < b0 + count; b++)
                {
                    y[((long)b * yStride) + r2] = DotOne(w.Row(r2), x, b, n);
                    y[((long)b * yStride) + r2 + 1] = DotOne(w.Row(r2 + 1), x, b, n);
                }
            }

            for (; r2 < r1; r2++)
            {
                var b = b0;
                for (; b + 4 <= b0 + count; b += 4)
                {
                    FourActivations(w.Row(r2), x, b, n, y + ((long)b * yStride) + r2, yStride);
                }

                for (; b < b0 + count; b++)
                {
                    y[((long)b * yStride) + r2] = DotOne(w.Row(r2), x, b, n);
                }
            }
        }

        /// <summary>One weight row with one activation row: ggml_vec_dot_*_q8_*.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private float DotOne(byte* wr, Activations x, int b, int n)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var xs = x.S + ((long)b * nb);
            Vector256<float> acc = default;
            var summs = 0f;
            for (var i = 0; i < nb; i++, wr += T.Bytes, xq += 32)
            {
                Vector256<int> lanes;
                if (simd)
                {
                    var yv = Avx.LoadVector256(xq);
                    lanes = Lanes<T>(T.Unpack(wr), yv, OffsetSums<T>(yv));
                }
                else
                {
                    lanes = LanesPortable<T>(wr, xq);
                }

                acc = Vector256.FusedMultiplyAdd(Vector256.Create(f16[*(ushort*)(wr)] * xd[i]), Vector256.ConvertToSingle(lanes), acc);
                if (!T.Signed)
                {
                    summs = MathF.FusedMultiplyAdd(f16[*(ushort*)(wr + 2)], xs[i], summs);
                }
            }

            return T.Signed ? GgmlFloat.Hsum8(acc) : GgmlFloat.Hsum8(acc) + summs;
        }

        /// <summary>Repacked (q4_0_8x8) rows: each block's integer sum whole, one float accumulator per row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private float DotRepacked(byte* wr, Activations x, int b, int n)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var total = 0f;
            for (var i = 0; i < nb; i++, wr += T.Bytes, xq += 32)
            {
                Vector256<int> lanes;
                if (simd)
                {
                    var yv = Avx.LoadVector256(xq);
                    lanes = Lanes<T>(T.Unpack(wr), yv, OffsetSums<T>(yv));
                }
                else
                {
                    lanes = LanesPortable<T>(wr, xq);
                }

                total = MathF.FusedMultiplyAdd(Vector256.Sum(lanes), f16[*(ushort*)(wr)] * xd[i], total);
            }

            return total;
        }

        /// <summary><see cref="DotRepacked"/> for four consecutive weight rows: lane k of every step is row k's.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void FourRowsRepacked(Matrix w, int r, Activations x, int b, int n, float* y)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var stride = w.RowBytes;
            var w0 = w.Row(r);
            Vector128<float> total = default;
            for (var i = 0; i < nb; i++, w0 += T.Bytes, xq += 32)
            {
                var w1 = w0 + stride;
                var w2 = w1 + stride;
                var w3 = w2 + stride;
                PrefetchFourRows<T>(w0, stride, i);

                var yv = Avx.LoadVector256(xq);
                var oy = OffsetSums<T>(yv);
                var l0 = Lanes<T>(T.Unpack(w0), yv, oy);
                var l1 = Lanes<T>(T.Unpack(w1), yv, oy);
                var l2 = Lanes<T>(T.Unpack(w2), yv, oy);
                var l3 = Lanes<T>(T.Unpack(w3), yv, oy);
                var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(l0, l1), Avx2.HorizontalAdd(l2, l3));
                var isum = h.GetLower() + h.GetUpper();
                var d = Vector128.Create(f16[*(ushort*)w0], f16[*(ushort*)w1], f16[*(ushort*)w2], f16[*(ushort*)w3]) * xd[i];
                total = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(isum), d, total);
            }

            Vector128.Store(total, y);
        }

        /// <summary>Four weight rows with one activation row: the activation block is loaded once, four FMA chains overlap.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void FourRows(Matrix w, int r, Activations x, int b, int n, float* y)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var xs = x.S + ((long)b * nb);
            var stride = w.RowBytes;
            var w0 = w.Row(r);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            for (var i = 0; i < nb; i++, w0 += T.Bytes, xq += 32)
            {
                var yv = Avx.LoadVector256(xq);
                var oy = OffsetSums<T>(yv, vnni: true);
                var dy = xd[i];
                var w1 = w0 + stride;
                var w2 = w1 + stride;
                var w3 = w2 + stride;

                // Fetching far ahead keeps enough requests in flight to approach the memory bandwidth.
                PrefetchFourRows<T>(w0, stride, i);

                var q0 = T.Unpack(w0);
                var q1 = T.Unpack(w1);
                var q2 = T.Unpack(w2);
                var q3 = T.Unpack(w3);
                a0 = Fma.MultiplyAdd(Vector256.Create(f16[*(ushort*)(w0)] * dy), Avx.ConvertToVector256Single(Lanes<T>(q0, yv, oy, vnni: true)), a0);
                a1 = Fma.MultiplyAdd(Vector256.Create(f16[*(ushort*)(w1)] * dy), Avx.ConvertToVector256Single(Lanes<T>(q1, yv, oy, vnni: true)), a1);
                a2 = Fma.MultiplyAdd(Vector256.Create(f16[*(ushort*)(w2)] * dy), Avx.ConvertToVector256Single(Lanes<T>(q2, yv, oy, vnni: true)), a2);
                a3 = Fma.MultiplyAdd(Vector256.Create(f16[*(ushort*)(w3)] * dy), Avx.ConvertToVector256Single(Lanes<T>(q3, yv, oy, vnni: true)), a3);
                if (!T.Signed)
                {
                    var s = xs[i];
                    m0 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w0 + 2)], s, m0);
                    m1 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w1 + 2)], s, m1);
                    m2 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w2 + 2)], s, m2);
                    m3 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w3 + 2)], s, m3);
                }
            }

            y[0] = T.Signed ? GgmlFloat.Hsum8(a0) : GgmlFloat.Hsum8(a0) + m0;
            y[1] = T.Signed ? GgmlFloat.Hsum8(a1) : GgmlFloat.Hsum8(a1) + m1;
            y[2] = T.Signed ? GgmlFloat.Hsum8(a2) : GgmlFloat.Hsum8(a2) + m2;
            y[3] = T.Signed ? GgmlFloat.Hsum8(a3) : GgmlFloat.Hsum8(a3) + m3;
        }

        /// <summary>
        /// Four weight rows with two activation rows (several sequences decoding together): each weight block is
        /// unpacked once for both, eight FMA chains; per (row, activation) the same operations as <see cref="FourRows"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void FourRowsTwoActs(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var xs = x.S + ((long)b * nb);
            var stride = w.RowBytes;
            var w0 = w.Row(r);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0, n0 = 0, n1 = 0, n2 = 0, n3 = 0;
            for (var i = 0; i < nb; i++, w0 += T.Bytes, xq += 32)
            {
                var yv = Avx.LoadVector256(xq);
                var zv = Avx.LoadVector256(xq + n);
                var oy = OffsetSums<T>(yv, vnni: true);
                var oz = OffsetSums<T>(zv, vnni: true);
                var w1 = w0 + stride;
                var w2 = w1 + stride;
                var w3 = w2 + stride;
                PrefetchFourRows<T>(w0, stride, i);

                var q0 = T.Unpack(w0);
                var q1 = T.Unpack(w1);
                var q2 = T.Unpack(w2);
                var q3 = T.Unpack(w3);
                var s0 = f16[*(ushort*)w0];
                var s1 = f16[*(ushort*)w1];
                var s2 = f16[*(ushort*)w2];
                var s3 = f16[*(ushort*)w3];
                var dy = xd[i];
                var dz = xd[i + nb];
                a0 = Fma.MultiplyAdd(Vector256.Create(s0 * dy), Avx.ConvertToVector256Single(Lanes<T>(q0, yv, oy, vnni: true)), a0);
                a1 = Fma.MultiplyAdd(Vector256.Create(s1 * dy), Avx.ConvertToVector256Single(Lanes<T>(q1, yv, oy, vnni: true)), a1);
                a2 = Fma.MultiplyAdd(Vector256.Create(s2 * dy), Avx.ConvertToVector256Single(Lanes<T>(q2, yv, oy, vnni: true)), a2);
                a3 = Fma.MultiplyAdd(Vector256.Create(s3 * dy), Avx.ConvertToVector256Single(Lanes<T>(q3, yv, oy, vnni: true)), a3);
                c0 = Fma.MultiplyAdd(Vector256.Create(s0 * dz), Avx.ConvertToVector256Single(Lanes<T>(q0, zv, oz, vnni: true)), c0);
                c1 = Fma.MultiplyAdd(Vector256.Create(s1 * dz), Avx.ConvertToVector256Single(Lanes<T>(q1, zv, oz, vnni: true)), c1);
                c2 = Fma.MultiplyAdd(Vector256.Create(s2 * dz), Avx.ConvertToVector256Single(Lanes<T>(q2, zv, oz, vnni: true)), c2);
                c3 = Fma.MultiplyAdd(Vector256.Create(s3 * dz), Avx.ConvertToVector256Single(Lanes<T>(q3, zv, oz, vnni: true)), c3);
                if (!T.Signed)
                {
                    var sy = xs[i];
                    var sz = xs[i + nb];
                    m0 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w0 + 2)], sy, m0);
                    m1 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w1 + 2)], sy, m1);
                    m2 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w2 + 2)], sy, m2);
                    m3 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w3 + 2)], sy, m3);
                    n0 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w0 + 2)], sz, n0);
                    n1 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w1 + 2)], sz, n1);
                    n2 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w2 + 2)], sz, n2);
                    n3 = MathF.FusedMultiplyAdd(f16[*(ushort*)(w3 + 2)], sz, n3);
                }
            }

            y[0] = T.Signed ? GgmlFloat.Hsum8(a0) : GgmlFloat.Hsum8(a0) + m0;
            y[1] = T.Signed ? GgmlFloat.Hsum8(a1) : GgmlFloat.Hsum8(a1) + m1;
            y[2] = T.Signed ? GgmlFloat.Hsum8(a2) : GgmlFloat.Hsum8(a2) + m2;
            y[3] = T.Signed ? GgmlFloat.Hsum8(a3) : GgmlFloat.Hsum8(a3) + m3;
            var z = y + yStride;
            z[0] = T.Signed ? GgmlFloat.Hsum8(c0) : GgmlFloat.Hsum8(c0) + n0;
            z[1] = T.Signed ? GgmlFloat.Hsum8(c1) : GgmlFloat.Hsum8(c1) + n1;
            z[2] = T.Signed ? GgmlFloat.Hsum8(c2) : GgmlFloat.Hsum8(c2) + n2;
            z[3] = T.Signed ? GgmlFloat.Hsum8(c3) : GgmlFloat.Hsum8(c3) + n3;
        }

        /// <summary>
        /// Four weight rows with four activation rows (four sequences decoding together), for the signed types: each
        /// weight block is unpacked once for all four, and the sixteen scale products are formed four at a time and
        /// broadcast from memory by the FMAs that use them. Per (row, activation) the same operations as
        /// <see cref="FourRows"/>: the scale is the same float product, the lanes the same integers.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void FourRowsFourActs(Matrix w, int r, Activations x, int b, int n, float* y, int yStride)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var xd = x.D + ((long)b * nb);
            var stride = w.RowBytes;
            var w0 = w.Row(r);
            var scale = stackalloc float[16];
            Four a = default, c = default, e = default, g = default;
            for (var i = 0; i < nb; i++, w0 += T.Bytes, xq += 32)
            {
                var w1 = w0 + stride;
                var w2 = w1 + stride;
                var w3 = w2 + stride;
                PrefetchFourRows<T>(w0, stride, i);

                var q0 = T.Unpack(w0);
                var q1 = T.Unpack(w1);
                var q2 = T.Unpack(w2);
                var q3 = T.Unpack(w3);
                var ws = Vector128.Create(f16[*(ushort*)w0], f16[*(ushort*)w1], f16[*(ushort*)w2], f16[*(ushort*)w3]);
                Vector128.Store(ws * xd[i], scale);
                Vector128.Store(ws * xd[i + nb], scale + 4);
                Vector128.Store(ws * xd[i + (2 * nb)], scale + 8);
                Vector128.Store(ws * xd[i + (3 * nb)], scale + 12);
                a = a.Add(q0, q1, q2, q3, Avx.LoadVector256(xq), scale);
                c = c.Add(q0, q1, q2, q3, Avx.LoadVector256(xq + n), scale + 4);
                e = e.Add(q0, q1, q2, q3, Avx.LoadVector256(xq + (2 * n)), scale + 8);
                g = g.Add(q0, q1, q2, q3, Avx.LoadVector256(xq + (3 * n)), scale + 12);
            }

            a.Store(y);
            c.Store(y + yStride);
            e.Store(y + (2 * yStride));
            g.Store(y + (3 * yStride));
        }

        /// <summary>One activation row's accumulators against four weight rows (ggml's eight lanes each).</summary>
        private readonly struct Four(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
        {
            /// <summary>Block products of the four unpacked weight blocks with activation block <paramref name="yv"/>, scaled by scale[0..3].</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public Four Add(Vector256<byte> q0, Vector256<byte> q1, Vector256<byte> q2, Vector256<byte> q3, Vector256<sbyte> yv, float* scale)
            {
                var oy = OffsetSums<T>(yv, vnni: true);
                return new(
                    Fma.MultiplyAdd(Vector256.Create(scale[0]), Avx.ConvertToVector256Single(Lanes<T>(q0, yv, oy, vnni: true)), a0),
                    Fma.MultiplyAdd(Vector256.Create(scale[1]), Avx.ConvertToVector256Single(Lanes<T>(q1, yv, oy, vnni: true)), a1),
                    Fma.MultiplyAdd(Vector256.Create(scale[2]), Avx.ConvertToVector256Single(Lanes<T>(q2, yv, oy, vnni: true)), a2),
                    Fma.MultiplyAdd(Vector256.Create(scale[3]), Avx.ConvertToVector256Single(Lanes<T>(q3, yv, oy, vnni: true)), a3));
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Store(float* y)
            {
                y[0] = GgmlFloat.Hsum8(a0);
                y[1] = GgmlFloat.Hsum8(a1);
                y[2] = GgmlFloat.Hsum8(a2);
                y[3] = GgmlFloat.Hsum8(a3);
            }
        }

        /// <summary>
        /// Two weight rows with four activation rows (prompt processing): eight FMA chains; each weight block is unpacked
        /// once for four activations and each activation block loaded once for two rows.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void TwoByFour(byte* wr, long rowBytes, Activations x, int b, int n, float* y, int yStride)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var d0 = x.D + ((long)b * nb);
            var d1 = d0 + nb;
            var d2 = d1 + nb;
            var d3 = d2 + nb;
            var s0 = x.S + ((long)b * nb);
            var w2 = wr + rowBytes;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            // The eight scale products go through memory so that each FMA broadcasts its own from there (an AVX-512
            // embedded broadcast, part of the FMA) instead of a shuffle and a broadcast per product.
            var scale = stackalloc float[8];
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0, k0 = 0, k1 = 0, k2 = 0, k3 = 0;
            for (var i = 0; i < nb; i++, wr += T.Bytes, w2 += T.Bytes, xq += 32)
            {
                var y0 = Avx.LoadVector256(xq);
                var y1 = Avx.LoadVector256(xq + n);
                var y2 = Avx.LoadVector256(xq + (2 * n));
                var y3 = Avx.LoadVector256(xq + (3 * n));
                var o0 = OffsetSums<T>(y0);
                var o1 = OffsetSums<T>(y1);
                var o2 = OffsetSums<T>(y2);
                var o3 = OffsetSums<T>(y3);
                var dy = Vector128.Create(d0[i], d1[i], d2[i], d3[i]);
                var q = T.Unpack(wr);
                Vector128.Store(dy * f16[*(ushort*)wr], scale);
                a0 = Fma.MultiplyAdd(Vector256.Create(scale[0]), Avx.ConvertToVector256Single(Lanes<T>(q, y0, o0)), a0);
                a1 = Fma.MultiplyAdd(Vector256.Create(scale[1]), Avx.ConvertToVector256Single(Lanes<T>(q, y1, o1)), a1);
                a2 = Fma.MultiplyAdd(Vector256.Create(scale[2]), Avx.ConvertToVector256Single(Lanes<T>(q, y2, o2)), a2);
                a3 = Fma.MultiplyAdd(Vector256.Create(scale[3]), Avx.ConvertToVector256Single(Lanes<T>(q, y3, o3)), a3);
                var q2 = T.Unpack(w2);
                Vector128.Store(dy * f16[*(ushort*)w2], scale + 4);
                c0 = Fma.MultiplyAdd(Vector256.Create(scale[4]), Avx.ConvertToVector256Single(Lanes<T>(q2, y0, o0)), c0);
                c1 = Fma.MultiplyAdd(Vector256.Create(scale[5]), Avx.ConvertToVector256Single(Lanes<T>(q2, y1, o1)), c1);
                c2 = Fma.MultiplyAdd(Vector256.Create(scale[6]), Avx.ConvertToVector256Single(Lanes<T>(q2, y2, o2)), c2);
                c3 = Fma.MultiplyAdd(Vector256.Create(scale[7]), Avx.ConvertToVector256Single(Lanes<T>(q2, y3, o3)), c3);
                if (!T.Signed)
                {
                    float ma = f16[*(ushort*)(wr + 2)], mc = f16[*(ushort*)(w2 + 2)];
                    m0 = MathF.FusedMultiplyAdd(ma, s0[i], m0);
                    m1 = MathF.FusedMultiplyAdd(ma, s0[i + nb], m1);
                    m2 = MathF.FusedMultiplyAdd(ma, s0[i + (2 * nb)], m2);
                    m3 = MathF.FusedMultiplyAdd(ma, s0[i + (3 * nb)], m3);
                    k0 = MathF.FusedMultiplyAdd(mc, s0[i], k0);
                    k1 = MathF.FusedMultiplyAdd(mc, s0[i + nb], k1);
                    k2 = MathF.FusedMultiplyAdd(mc, s0[i + (2 * nb)], k2);
                    k3 = MathF.FusedMultiplyAdd(mc, s0[i + (3 * nb)], k3);
                }
            }

            y[0] = GgmlFloat.Hsum8(a0) + m0;
            y[yStride] = GgmlFloat.Hsum8(a1) + m1;
            y[2 * yStride] = GgmlFloat.Hsum8(a2) + m2;
            y[3 * yStride] = GgmlFloat.Hsum8(a3) + m3;
            y[1] = GgmlFloat.Hsum8(c0) + k0;
            y[yStride + 1] = GgmlFloat.Hsum8(c1) + k1;
            y[(2 * yStride) + 1] = GgmlFloat.Hsum8(c2) + k2;
            y[(3 * yStride) + 1] = GgmlFloat.Hsum8(c3) + k3;
        }

        /// <summary>
        /// Four weight rows with four activation rows (prompt processing) for the signed types, 512 bits wide: a register
        /// holds the same block of two weight rows (one per 256-bit half) and meets the activation block broadcast to
        /// both halves, so one sign select or offset subtraction, byte product, pair sum, conversion and FMA serve two
        /// (row, activation) pairs. Each half computes exactly the 256-bit form's eight int32 lanes (<see cref="Lanes"/>)
        /// and accumulates them with the same float scale and FMA in the same order; the halves are reduced apart.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void WideFourByFour(byte* w0, long rowBytes, Activations x, int b, int n, float* y, int yStride, bool prefetch)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var xq = x.Q + ((long)b * n);
            var d0 = x.D + ((long)b * nb);
            var d1 = d0 + nb;
            var d2 = d1 + nb;
            var d3 = d2 + nb;
            var w1 = w0 + rowBytes;
            var w2 = w1 + rowBytes;
            var w3 = w2 + rowBytes;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (var i = 0; i < nb; i++, w0 += T.Bytes, w1 += T.Bytes, w2 += T.Bytes, w3 += T.Bytes, xq += 32)
            {
                if (prefetch)
                {
                    // Decoding streams the weights from memory (a prompt's tile finds them in cache).
                    PrefetchFourRows<T>(w0, rowBytes, i);
                }

                // Explicit loads and inserts: Vector512.Create of two halves goes through a stack temporary, and
                // BroadcastVector256ToVector512 is miscompiled when the JIT folds it into its user (see Broadcast256).
                var y0 = Broadcast256(xq);
                var y1 = Broadcast256(xq + n);
                var y2 = Broadcast256(xq + (2 * n));
                var y3 = Broadcast256(xq + (3 * n));
                var p01 = new WidePair(Avx512F.InsertVector256(T.Unpack(w0).ToVector512Unsafe(), T.Unpack(w1), 1));
                var p23 = new WidePair(Avx512F.InsertVector256(T.Unpack(w2).ToVector512Unsafe(), T.Unpack(w3), 1));
                var s01 = Avx512F.InsertVector256(Vector256.Create(f16[*(ushort*)w0]).ToVector512Unsafe(), Vector256.Create(f16[*(ushort*)w1]), 1);
                var s23 = Avx512F.InsertVector256(Vector256.Create(f16[*(ushort*)w2]).ToVector512Unsafe(), Vector256.Create(f16[*(ushort*)w3]), 1);
                var o0 = WidePair.Other(y0);
                a0 = p01.Add(a0, y0, o0, s01 * d0[i]);
                c0 = p23.Add(c0, y0, o0, s23 * d0[i]);
                var o1 = WidePair.Other(y1);
                a1 = p01.Add(a1, y1, o1, s01 * d1[i]);
                c1 = p23.Add(c1, y1, o1, s23 * d1[i]);
                var o2 = WidePair.Other(y2);
                a2 = p01.Add(a2, y2, o2, s01 * d2[i]);
                c2 = p23.Add(c2, y2, o2, s23 * d2[i]);
                var o3 = WidePair.Other(y3);
                a3 = p01.Add(a3, y3, o3, s01 * d3[i]);
                c3 = p23.Add(c3, y3, o3, s23 * d3[i]);
            }

            WidePair.Store(a0, c0, y);
            WidePair.Store(a1, c1, y + yStride);
            WidePair.Store(a2, c2, y + (2 * yStride));
            WidePair.Store(a3, c3, y + (3 * yStride));
        }

        /// <summary>
        /// One block of two weight rows, ready for <see cref="WideFourByFour"/>: for Q8_0 |q| and where q is negative
        /// (the sign moves to the activation, as ggml does), for the offset types the stored unsigned quants.
        /// </summary>
        private readonly struct WidePair
        {
            private readonly Vector512<byte> _q;
            private readonly Vector512<sbyte> _negative;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public WidePair(Vector512<byte> q)
            {
                if (T.Offset == 0)
                {
                    _q = Avx512BW.Abs(q.AsSByte());
                    _negative = Vector512.LessThan(q.AsSByte(), Vector512<sbyte>.Zero);
                }
                else
                {
                    _q = q;
                }
            }

            /// <summary>
            /// What every weight pair needs of activation block <paramref name="y"/>: for Q8_0 0 − y (wrapping as vpsignb's
            /// negation does), for the offset types offset × y summed in pairs (16-bit lanes).
            /// </summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static Vector512<sbyte> Other(Vector512<sbyte> y) =>
                T.Offset == 0 ? Vector512<sbyte>.Zero - y : Avx512BW.MultiplyAddAdjacent(Vector512.Create((byte)T.Offset), y).AsSByte();

            /// <summary>acc + scale × the lanes of this pair with <paramref name="y"/> (<paramref name="other"/>: <see cref="Other"/> of it).</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public Vector512<float> Add(Vector512<float> acc, Vector512<sbyte> y, Vector512<sbyte> other, Vector512<float> scale)
            {
                var pairs = T.Offset == 0
                    ? Avx512BW.MultiplyAddAdjacent(_q, Vector512.ConditionalSelect(_negative, other, y))
                    : Avx512BW.MultiplyAddAdjacent(_q, y) - other.AsInt16();
                var dot = Avx512BW.MultiplyAddAdjacent(pairs, Vector512.Create((short)1));
                return Avx512F.FusedMultiplyAdd(scale, Avx512F.ConvertToVector512Single(dot), acc);
            }

            /// <summary>Rows 0 and 1 from <paramref name="a"/>'s halves, 2 and 3 from <paramref name="c"/>'s, each reduced as hsum_float_8.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static void Store(Vector512<float> a, Vector512<float> c, float* y)
            {
                y[0] = GgmlFloat.Hsum8(a.GetLower());
                y[1] = GgmlFloat.Hsum8(a.GetUpper());
                y[2] = GgmlFloat.Hsum8(c.GetLower());
                y[3] = GgmlFloat.Hsum8(c.GetUpper());
            }
        }

        /// <summary>One weight row with four activation rows: each weight block is unpacked once and used four times.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void FourActivations(byte* wr, Activations x, int b, int n, float* y, int yStride)
        {
            var f16 = Fp16.Table;
            var nb = n / 32;
            var q0p = x.Q + ((long)b * n);
            var d0p = x.D + ((long)b * nb);
            var s0p = x.S + ((long)b * nb);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            for (var i = 0; i < nb; i++, wr += T.Bytes, q0p += 32)
            {
                var q = T.Unpack(wr);
                var y0 = Avx.LoadVector256(q0p);
                var y1 = Avx.LoadVector256(q0p + n);
                var y2 = Avx.LoadVector256(q0p + (2 * n));
                var y3 = Avx.LoadVector256(q0p + (3 * n));
                var dw = f16[*(ushort*)(wr)];
                a0 = Fma.MultiplyAdd(Vector256.Create(dw * d0p[i]), Avx.ConvertToVector256Single(Lanes<T>(q, y0, OffsetSums<T>(y0))), a0);
                a1 = Fma.MultiplyAdd(Vector256.Create(dw * d0p[i + nb]), Avx.ConvertToVector256Single(Lanes<T>(q, y1, OffsetSums<T>(y1))), a1);
                a2 = Fma.MultiplyAdd(Vector256.Create(dw * d0p[i + (2 * nb)]), Avx.ConvertToVector256Single(Lanes<T>(q, y2, OffsetSums<T>(y2))), a2);
                a3 = Fma.MultiplyAdd(Vector256.Create(dw * d0p[i + (3 * nb)]), Avx.ConvertToVector256Single(Lanes<T>(q, y3, OffsetSums<T>(y3))), a3);
                if (!T.Signed)
                {
                    var m = f16[*(ushort*)(wr + 2)];
                    m0 = MathF.FusedMultiplyAdd(m, s0p[i], m0);
                    m1 = MathF.FusedMultiplyAdd(m, s0p[i + nb], m1);
                    m2 = MathF.FusedMultiplyAdd(m, s0p[i + (2 * nb)], m2);
                    m3 = MathF.FusedMultiplyAdd(m, s0p[i + (3 * nb)], m3);
                }
            }

            y[0] = T.Signed ? GgmlFloat.Hsum8(a0) : GgmlFloat.Hsum8(a0) + m0;
            y[yStride] = T.Signed ? GgmlFloat.Hsum8(a1) : GgmlFloat.Hsum8(a1) + m1;
            y[2 * yStride] = T.Signed ? GgmlFloat.Hsum8(a2) : GgmlFloat.Hsum8(a2) + m2;
            y[3 * yStride] = T.Signed ? GgmlFloat.Hsum8(a3) : GgmlFloat.Hsum8(a3) + m3;
        }
    }
}
