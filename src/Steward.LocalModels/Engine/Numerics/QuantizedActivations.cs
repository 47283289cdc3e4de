using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// A batch of activation rows prepared for dot products with weight rows: the float rows themselves, copies
/// rounded to fp16 / bf16, and Q8 blocks of 32 (int8 quants, a per-block scale rounded to fp16 as ggml stores it,
/// and per-16 sums used by the offset and min corrections of the other quant types). Each form is computed
/// lazily, once per <see cref="SetSource"/>, on the calling thread. Native, 64-byte aligned memory. Not thread-safe
/// for preparation; read-only use from many threads is fine.
/// </summary>
internal sealed unsafe class QuantizedActivations : IDisposable
{
    private readonly int _capacity;
    private bool _hasF16;
    private bool _hasBf16;
    private bool _hasQ8;
    private bool _disposed;

    public QuantizedActivations(int capacityElements)
    {
        _capacity = (capacityElements + 31) / 32 * 32;
        Half = Alloc<float>(_capacity);
        Bf16 = Alloc<float>(_capacity);
        Q = Alloc<sbyte>(_capacity);
        QU = Alloc<byte>(_capacity);
        D = Alloc<float>(_capacity / 32);
        S = Alloc<short>(_capacity / 16);
    }

    public float* Source { get; private set; }

    public int Rows { get; private set; }

    public int Length { get; private set; }

    public float* Half { get; }

    public float* Bf16 { get; }

    public sbyte* Q { get; }

    /// <summary>The quants plus 128 as unsigned bytes (the batched VNNI kernel multiplies them with signed weights).</summary>
    public byte* QU { get; }

    public float* D { get; }

    public short* S { get; }

    public void SetSource(float* source, int rows, int length)
    {
        if ((long)rows * length > _capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"{rows}x{length} activations exceed the buffer of {_capacity}.");
        }

        Source = source;
        Rows = rows;
        Length = length;
        _hasF16 = _hasBf16 = _hasQ8 = false;
    }

    /// <summary>Makes sure the form <paramref name="kind"/> exists; Q8 requires the row length to be a multiple of 32.</summary>
    public void Prepare(ActivationKind kind)
    {
        var total = Rows * Length;
        switch (kind)
        {
            case ActivationKind.F16 when !_hasF16:
                RoundToHalf(Source, Half, total);

                _hasF16 = true;
                break;
            case ActivationKind.BF16 when !_hasBf16:
                for (var i = 0; i < total; i++)
                {
                    Bf16[i] = Dequantizer.Bf16(Quantizer.ToBf16(Source[i]));
                }

                _hasBf16 = true;
                break;
            case ActivationKind.Q8 when !_hasQ8:
                if (Length % 32 != 0)
                {
                    throw new InvalidOperationException($"Q8 activations need a row length that is a multiple of 32, not {Length}.");
                }

                QuantizeQ8(Source, Q, D, S, total);
                ToUnsigned(Q, QU, total);
                _hasQ8 = true;
                break;
            default:
                break;
        }
    }

    /// <summary>Rounds to fp16 precision in chunks through a stack buffer, with the vectorised converters.</summary>
    private static void RoundToHalf(float* src, float* dst, int total)
    {
        Span<System.Half> buffer = stackalloc System.Half[256];
        for (var i = 0; i < total; i += 256)
        {
            var n = Math.Min(256, total - i);
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(src + i, n), buffer[..n]);
            TensorPrimitives.ConvertToSingle(buffer[..n], new Span<float>(dst + i, n));
        }
    }

    /// <summary>Pointer to row <paramref name="row"/> of the float form for <paramref name="kind"/>.</summary>
    public float* Floats(ActivationKind kind, int row) => kind switch
    {
        ActivationKind.F16 => Half + ((long)row * Length),
        ActivationKind.BF16 => Bf16 + ((long)row * Length),
        _ => Source + ((long)row * Length),
    };

    /// <summary>ggml's quantize_row_q8_0 (scale from the block's absolute maximum, round to nearest) plus per-16 sums.</summary>
    public static void QuantizeQ8(float* x, sbyte* q, float* d, short* s, int n)
    {
        if (Avx2.IsSupported)
        {
            QuantizeQ8Avx2(x, q, d, s, n);
            return;
        }

        for (var b = 0; b < n / 32; b++)
        {
            var xb = x + (b * 32);
            var amax = 0f;
            for (var j = 0; j < 32; j++)
            {
                amax = MathF.Max(amax, MathF.Abs(xb[j]));
            }

            // ggml's x86 path: id = 127/amax (not 1/d) and round half to even.
            var scale = amax / 127f;
            var id = amax != 0 ? 127f / amax : 0f;
            d[b] = (float)(System.Half)scale;
            var qb = q + (b * 32);
            int s0 = 0, s1 = 0;
            for (var j = 0; j < 32; j++)
            {
                var v = (int)MathF.Round(xb[j] * id);
                qb[j] = (sbyte)v;
                if (j < 16)
                {
                    s0 += v;
                }
                else
                {
                    s1 += v;
                }
            }

            s[2 * b] = (short)s0;
            s[(2 * b) + 1] = (short)s1;
        }
    }

    private static void ToUnsigned(sbyte* q, byte* qu, int n)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                Vector256.Store(Vector256.Load((byte*)q + i) ^ Vector256.Create((byte)0x80), qu + i);
            }
        }

        for (; i < n; i++)
        {
            qu[i] = (byte)(q[i] ^ 0x80);
        }
    }

    /// <summary>The same quantization 32 values at a time (ggml's AVX2 quantize_row_q8_0, plus the per-16 sums).</summary>
    private static void QuantizeQ8Avx2(float* x, sbyte* q, float* d, short* s, int n)
    {
        var signMask = Vector256.Create(0x7fffffff).AsSingle();
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        for (var b = 0; b < n / 32; b++, x += 32, q += 32)
        {
            var v0 = Avx.LoadVector256(x);
            var v1 = Avx.LoadVector256(x + 8);
            var v2 = Avx.LoadVector256(x + 16);
            var v3 = Avx.LoadVector256(x + 24);
            var m = Avx.Max(Avx.Max(v0 & signMask, v1 & signMask), Avx.Max(v2 & signMask, v3 & signMask));
            var m128 = Sse.Max(m.GetLower(), m.GetUpper());
            m128 = Sse.Max(m128, Sse.MoveHighToLow(m128, m128));
            m128 = Sse.Max(m128, Sse.Shuffle(m128, m128, 1));
            var amax = m128.ToScalar();
            d[b] = (float)(System.Half)(amax / 127f);
            var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
            var i0 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v0 * id));
            var i1 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v1 * id));
            var i2 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v2 * id));
            var i3 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v3 * id));
            s[2 * b] = (short)Vector256.Sum(i0 + i1);
            s[(2 * b) + 1] = (short)Vector256.Sum(i2 + i3);
            var p01 = Avx2.PackSignedSaturate(i0, i1);
            var p23 = Avx2.PackSignedSaturate(i2, i3);
            var bytes = Avx2.PackSignedSaturate(p01, p23);
            Avx.Store(q, Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsSByte());
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.AlignedFree(Half);
        NativeMemory.AlignedFree(Bf16);
        NativeMemory.AlignedFree(Q);
        NativeMemory.AlignedFree(QU);
        NativeMemory.AlignedFree(D);
        NativeMemory.AlignedFree(S);
    }

    private static T* Alloc<T>(long count)
        where T : unmanaged
    {
        var p = (T*)NativeMemory.AlignedAlloc((nuint)(Math.Max(count, 1) * sizeof(T)), 64);
        new Span<T>(p, (int)count).Clear();
        return p;
    }
}
