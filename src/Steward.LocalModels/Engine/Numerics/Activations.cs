using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Steward.LocalModels.Engine.Numerics;

/// <summary>
/// A batch of activation rows and the forms weight kernels read: fp16- and bf16-rounded copies, Q8_0 blocks
/// (int8 quants, the scale rounded to fp16 as ggml stores it), the Q8_1 sums, and Q8_K super-blocks (float scale,
/// int8 quants, per-16 sums). Each form is computed lazily, once per <see cref="SetSource"/>, on the calling
/// thread, with ggml's own quantizers (the AVX2 <c>quantize_row_q8_0/q8_1</c> and <c>quantize_row_q8_K_ref</c>).
/// Native, 64-byte aligned memory. Not thread-safe for preparation; read-only use from many threads is fine.
/// </summary>
internal sealed unsafe class Activations : IDisposable
{
    private readonly int _capacity;
    private bool _hasF16;
    private bool _hasBf16;
    private bool _hasQ8;
    private bool _hasQ8Sums;
    private bool _hasQ8K;
    private bool _hasQ8KPaired;
    private sbyte* _qkPaired;
    private bool _disposed;

    public Activations(int capacityElements)
    {
        _capacity = (capacityElements + 255) / 256 * 256;
        Half = Alloc<float>(_capacity);
        Bf16 = Alloc<float>(_capacity);
        Q = Alloc<sbyte>(_capacity);
        D = Alloc<float>(_capacity / 32);
        S = Alloc<float>(_capacity / 32);
        QK = Alloc<sbyte>(_capacity);
        DK = Alloc<float>(_capacity / 256);
        BSums = Alloc<short>(_capacity / 16);
    }

    public float* Source { get; private set; }

    /// <summary>Rows in the batch.</summary>
    public int Rows { get; private set; }

    /// <summary>Elements per row.</summary>
    public int Length { get; private set; }

    public float* Half { get; }

    public float* Bf16 { get; }

    /// <summary>Q8_0 / Q8_1 quants, <see cref="Length"/> per row.</summary>
    public sbyte* Q { get; }

    /// <summary>Q8_0 / Q8_1 block scales (the fp16 value as a float), Length / 32 per row.</summary>
    public float* D { get; }

    /// <summary>Q8_1 block sums, fp16(d × Σq) as a float, Length / 32 per row.</summary>
    public float* S { get; }

    /// <summary>Q8_K quants, <see cref="Length"/> per row.</summary>
    public sbyte* QK { get; }

    /// <summary>
    /// <see cref="QK"/> with the second and third 16 of every 64 quants swapped (elements 0-15, 32-47, 16-31, 48-63): a
    /// 32-byte load then holds the quants that the low and the high nibbles of 16 Q4_K bytes meet. Allocated on first
    /// use (models with repacked Q4_K matrices only).
    /// </summary>
    public sbyte* QKPaired => _qkPaired;

    /// <summary>Q8_K super-block scales, Length / 256 per row.</summary>
    public float* DK { get; }

    /// <summary>Q8_K sums of each 16 quants, Length / 16 per row.</summary>
    public short* BSums { get; }

    public void SetSource(float* source, int rows, int length)
    {
        if ((long)rows * length > _capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"{rows}x{length} activations exceed the buffer of {_capacity}.");
        }

        Source = source;
        Rows = rows;
        Length = length;
        _hasF16 = _hasBf16 = _hasQ8 = _hasQ8Sums = _hasQ8K = _hasQ8KPaired = false;
    }

    /// <summary>Makes sure the form <paramref name="kind"/> exists.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Prepare(ActivationKind kind)
    {
        var total = Rows * Length;
        if (Length % ActivationKinds.BlockElements(kind) != 0)
        {
            throw new InvalidOperationException($"{kind} activations need a row length that is a multiple of {ActivationKinds.BlockElements(kind)}, not {Length}.");
        }

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
            case ActivationKind.Q8_0 when !_hasQ8:
                QuantizeQ8(Source, Q, D, total);
                _hasQ8 = true;
                break;
            case ActivationKind.Q8_1 when !_hasQ8Sums:
                Prepare(ActivationKind.Q8_0);
                Q8Sums(Source, Q, S, total);
                _hasQ8Sums = true;
                break;
            case ActivationKind.Q8_K when !_hasQ8K:
                for (var i = 0; i < total; i += 256)
                {
                    QuantizeQ8K(Source + i, QK + i, DK + (i / 256), BSums + (i / 16));
                }

                _hasQ8K = true;
                break;
            case ActivationKind.Q8_KPaired when !_hasQ8KPaired:
                Prepare(ActivationKind.Q8_K);
                if (_qkPaired is null)
                {
                    _qkPaired = Alloc<sbyte>(_capacity);
                }

                PairQuarters(QK, _qkPaired, total);
                _hasQ8KPaired = true;
                break;
            default:
                break;
        }
    }

    /// <summary>Pointer to row <paramref name="row"/> of the float form for <paramref name="kind"/>.</summary>
    public float* Floats(ActivationKind kind, int row) => kind switch
    {
        ActivationKind.F16 => Half + ((long)row * Length),
        ActivationKind.BF16 => Bf16 + ((long)row * Length),
        _ => Source + ((long)row * Length),
    };

    /// <summary>Rounds to fp16 precision (round to nearest even, as F16C does), 16 lanes at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RoundToHalf(float* src, float* dst, int total)
    {
        var i = 0;
        for (; i + 16 <= total; i += 16)
        {
            Vector512.Store(GgmlFloat.RoundToHalf(Vector512.Load(src + i)), dst + i);
        }

        for (; i < total; i++)
        {
            dst[i] = GgmlFloat.RoundToHalf(src[i]);
        }
    }

    /// <summary>ggml's quantize_row_q8_0 (AVX2): scale from the block's absolute maximum, id = 127/amax, round half to even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8(float* x, sbyte* q, float* d, int n)
    {
        for (var b = 0; b < n / 32; b++, x += 32, q += 32)
        {
            var v0 = Vector256.Load(x);
            var v1 = Vector256.Load(x + 8);
            var v2 = Vector256.Load(x + 16);
            var v3 = Vector256.Load(x + 24);
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            var max4 = Vector128.Max(m.GetUpper(), m.GetLower());
            var maxScalar = MathF.Max(MathF.Max(max4.GetElement(0), max4.GetElement(2)), MathF.Max(max4.GetElement(1), max4.GetElement(3)));
            d[b] = (float)(System.Half)(maxScalar / 127f);
            var id = Vector256.Create(maxScalar != 0 ? 127f / maxScalar : 0f);
            Store32(Vector256.Round(v0 * id), Vector256.Round(v1 * id), Vector256.Round(v2 * id), Vector256.Round(v3 * id), q);
        }
    }

    /// <summary>Q8_1's s = fp16(d × Σq), d being the unrounded amax/127 (ggml's quantize_row_q8_1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8Sums(float* x, sbyte* q, float* s, int n)
    {
        for (var b = 0; b < n / 32; b++, x += 32, q += 32)
        {
            var amax = 0f;
            for (var j = 0; j < 32; j++)
            {
                amax = MathF.Max(amax, MathF.Abs(x[j]));
            }

            var sum = 0;
            for (var j = 0; j < 32; j++)
            {
                sum += q[j];
            }

            s[b] = (float)(System.Half)(amax / 127f * sum);
        }
    }

    /// <summary>ggml's quantize_row_q8_K_ref for one super-block of 256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8K(float* x, sbyte* q, float* d, short* bsums)
    {
        float max = 0, amax = 0;
        for (var j = 0; j < 256; j++)
        {
            var ax = MathF.Abs(x[j]);
            if (ax > amax)
            {
                amax = ax;
                max = x[j];
            }
        }

        if (amax == 0)
        {
            *d = 0;
            new Span<sbyte>(q, 256).Clear();
            new Span<short>(bsums, 16).Clear();
            return;
        }

        var iscale = -127f / max;
        var vs = Vector256.Create(iscale);
        var top = Vector256.Create(127f);
        for (var j = 0; j < 256; j += 32)
        {
            Store32(
                Vector256.Min(Vector256.Round(Vector256.Load(x + j) * vs), top),
                Vector256.Min(Vector256.Round(Vector256.Load(x + j + 8) * vs), top),
                Vector256.Min(Vector256.Round(Vector256.Load(x + j + 16) * vs), top),
                Vector256.Min(Vector256.Round(Vector256.Load(x + j + 24) * vs), top),
                q + j);
        }

        for (var j = 0; j < 16; j++)
        {
            var sum = 0;
            for (var k = 0; k < 16; k++)
            {
                sum += q[(j * 16) + k];
            }

            bsums[j] = (short)sum;
        }

        *d = 1 / iscale;
    }

    /// <summary>Stores 32 integral floats (all within ±127) as bytes, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store32(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, sbyte* q)
    {
        var ab = Vector256.Narrow(Vector256.ConvertToInt32(a), Vector256.ConvertToInt32(b));
        var cd = Vector256.Narrow(Vector256.ConvertToInt32(c), Vector256.ConvertToInt32(d));
        Vector256.Narrow(ab, cd).Store(q);
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
        NativeMemory.AlignedFree(D);
        NativeMemory.AlignedFree(S);
        NativeMemory.AlignedFree(QK);
        NativeMemory.AlignedFree(DK);
        NativeMemory.AlignedFree(BSums);
        NativeMemory.AlignedFree(_qkPaired);
    }

    /// <summary>Every 64 bytes of <paramref name="src"/> as quarters 0, 2, 1, 3 (see <see cref="QKPaired"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PairQuarters(sbyte* src, sbyte* dst, int total)
    {
        for (var i = 0; i < total; i += 64)
        {
            var a = Vector256.Load(src + i);
            var b = Vector256.Load(src + i + 32);
            Vector256.Create(a.GetLower(), b.GetLower()).Store(dst + i);
            Vector256.Create(a.GetUpper(), b.GetUpper()).Store(dst + i + 32);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T* Alloc<T>(long count)
        where T : unmanaged
    {
        var p = (T*)NativeMemory.AlignedAlloc((nuint)(Math.Max(count, 1) * sizeof(T)), 64);
        new Span<T>(p, (int)Math.Max(count, 1)).Clear();
        return p;
    }
}
