using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// The 32-element block types against Q8_0 / Q8_1 activations, as ggml's AVX2 vec_dot kernels compute them (tinyBLAS
/// does the same per block for Q8_0/Q4_0/Q5_0, so one order serves both paths): per block, eight int32 lanes each
/// summing four adjacent products exactly, converted to float and accumulated with one FMA by the product of the
/// two fp16 scales; the eight lanes are reduced by hsum_float_8 at the end. Q4_1/Q5_1 add their minimum through the
/// activation sums in a scalar fused accumulator. The portable variants compute the same lanes without AVX2.
/// </summary>
internal static unsafe class Q8Kernels
{
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    public static readonly MatKernel Q4_0Repacked = new Kernel(Format.Q4_0, simd: true, repacked: true);
    public static readonly MatKernel Q4_0RepackedPortable = new Kernel(Format.Q4_0, simd: false, repacked: true);
    public static readonly MatKernel Q8_0 = new Kernel(Format.Q8_0, simd: true);
    public static readonly MatKernel Q4_0 = new Kernel(Format.Q4_0, simd: true);
    public static readonly MatKernel Q5_0 = new Kernel(Format.Q5_0, simd: true);
    public static readonly MatKernel Q4_1 = new Kernel(Format.Q4_1, simd: true);
    public static readonly MatKernel Q5_1 = new Kernel(Format.Q5_1, simd: true);
    public static readonly MatKernel Q8_0Portable = new Kernel(Format.Q8_0, simd: false);
    public static readonly MatKernel Q4_0Portable = new Kernel(Format.Q4_0, simd: false);
    public static readonly MatKernel Q5_0Portable = new Kernel(Format.Q5_0, simd: false);
    public static readonly MatKernel Q4_1Portable = new Kernel(Format.Q4_1, simd: false);
    public static readonly MatKernel Q5_1Portable = new Kernel(Format.Q5_1, simd: false);

    private enum Format
    {
        Q8_0,
        Q4_0,
        Q5_0,
        Q4_1,
        Q5_1,
    }

    private static int BlockBytes(Format f) => f switch
    {
        Format.Q8_0 => 34,
        Format.Q4_0 => 18,
        Format.Q5_0 => 22,
        Format.Q4_1 => 20,
        _ => 24,
    };

    private static bool HasMin(Format f) => f is Format.Q4_1 or Format.Q5_1;

    /// <summary>The block's 32 quants as ggml feeds them to the multiply: signed (q8_0, q4_0 − 8, q5_0 − 16) or unsigned (q4_1, q5_1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Unpack(Format f, byte* b)
    {
        switch (f)
        {
            case Format.Q8_0:
                return Avx.LoadVector256((sbyte*)(b + 2));
            case Format.Q4_0:
                return Avx2.Subtract(Nibbles(b + 2), Vector256.Create((byte)8)).AsSByte();
            case Format.Q5_0:
                return (Nibbles(b + 6) | Avx2.AndNot(Bits(*(uint*)(b + 2)), Vector256.Create((byte)0xF0))).AsSByte();
            case Format.Q4_1:
                return Nibbles(b + 4).AsSByte();
            default:
                return (Nibbles(b + 8) | (Bits(*(uint*)(b + 4)) & Vector256.Create((byte)0x10))).AsSByte();
        }
    }

    /// <summary>bytes_from_nibbles_32: low nibbles of 16 bytes, then their high nibbles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* p)
    {
        var raw = Sse2.LoadVector128(p);
        var low = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & low, Sse2.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & low);
    }

    /// <summary>bytes_from_bits_32: 0xFF where the bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Bits(uint bits)
    {
        var v = Avx2.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        return Avx2.CompareEqual(v | Vector256.Create(0x7fbfdfeff7fbfdfeUL).AsByte(), Vector256<byte>.AllBitsSet);
    }

    /// <summary>Eight int32 lanes of four products each (ggml's mul_sum_i8_pairs / mul_sum_us8_pairs), as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Lanes(bool signed, Vector256<sbyte> q, Vector256<sbyte> y)
    {
        var dot = signed
            ? Avx2.MultiplyAddAdjacent(Avx2.Abs(q), Avx2.Sign(y, q))
            : Avx2.MultiplyAddAdjacent(q.AsByte(), y);
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(dot, Vector256.Create((short)1)));
    }

    /// <summary>The same eight lanes computed one element at a time (machines without AVX2, and the tests' reference).</summary>
    private static Vector256<float> LanesPortable(Format f, byte* b, sbyte* y)
    {
        Span<int> q = stackalloc int[32];
        Quants(f, b, q);
        var lanes = stackalloc float[8];
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

    /// <summary>The block's quants as integers, in element order (the values ggml multiplies).</summary>
    private static void Quants(Format f, byte* b, Span<int> q)
    {
        switch (f)
        {
            case Format.Q8_0:
                for (var j = 0; j < 32; j++)
                {
                    q[j] = ((sbyte*)(b + 2))[j];
                }

                break;
            case Format.Q4_0:
            case Format.Q4_1:
                {
                    var qs = b + (f == Format.Q4_0 ? 2 : 4);
                    var offset = f == Format.Q4_0 ? 8 : 0;
                    for (var j = 0; j < 16; j++)
                    {
                        q[j] = (qs[j] & 0xF) - offset;
                        q[j + 16] = (qs[j] >> 4) - offset;
                    }

                    break;
                }

            default:
                {
                    var qh = *(uint*)(b + (f == Format.Q5_0 ? 2 : 4));
                    var qs = b + (f == Format.Q5_0 ? 6 : 8);
                    var offset = f == Format.Q5_0 ? 16 : 0;
                    for (var j = 0; j < 16; j++)
                    {
                        q[j] = ((qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10)) - offset;
                        q[j + 16] = ((qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - offset;
                    }

                    break;
                }
        }
    }

    private sealed class Kernel(Format format, bool simd, bool repacked = false) : MatKernel
    {
        public override ActivationKind Kind => HasMin(format) ? ActivationKind.Q8_1 : ActivationKind.Q8_0;

        public override void Rows(Matrix w, Activations x, int b0, int count, int r0, int r1, float* y, int yStride, MatMulOp op)
        {
            var n = w.Cols;
            var nb = n / 32;
            var bb = BlockBytes(format);
            var min = HasMin(format);
            var signed = !min;
            for (var r = r0; r < r1; r++)
            {
                var wr = w.Row(r);
                for (var b = b0; b < b0 + count; b++)
                {
                    var xq = x.Q + ((long)b * n);
                    var xd = x.D + ((long)b * nb);
                    var xs = x.S + ((long)b * nb);
                    Vector256<float> acc = default;
                    var summs = 0f;
                    var blk = wr;
                    if (repacked)
                    {
                        // ggml_gemv/gemm_q4_0_8x8_q8_0: each block's integer sum whole, one float accumulator per row.
                        var total = 0f;
                        for (var i = 0; i < nb; i++, blk += bb, xq += 32)
                        {
                            var lanes = simd ? Lanes(signed, Unpack(format, blk), Avx.LoadVector256(xq)) : LanesPortable(format, blk, xq);
                            total = MathF.FusedMultiplyAdd(Vector256.Sum(lanes), Fp16.ToSingle(blk) * xd[i], total);
                        }

                        y[((long)b * yStride) + r] = total;
                        continue;
                    }

                    for (var i = 0; i < nb; i++, blk += bb, xq += 32)
                    {
                        var lanes = simd ? Lanes(signed, Unpack(format, blk), Avx.LoadVector256(xq)) : LanesPortable(format, blk, xq);
                        var d = Fp16.ToSingle(blk) * xd[i];
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(d), lanes, acc);
                        if (min)
                        {
                            summs = MathF.FusedMultiplyAdd(Fp16.ToSingle(blk + 2), xs[i], summs);
                        }
                    }

                    y[((long)b * yStride) + r] = min ? GgmlFloat.Hsum8(acc) + summs : GgmlFloat.Hsum8(acc);
                }
            }
        }
    }
}
