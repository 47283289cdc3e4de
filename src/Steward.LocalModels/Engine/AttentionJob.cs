using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Steward.LocalModels.Engine.Numerics;

namespace Steward.LocalModels.Engine;

/// <summary>
/// Causal grouped-query attention for a batch of tokens against the fp16 KV cache, parallel over
/// (token, head) pairs. Token b of the batch sits at position start + b and sees positions 0..start + b.
/// </summary>
internal sealed unsafe class AttentionJob : IParallelJob
{
    private readonly float[][] _scores;
    private float* _q;
    private Half* _k;
    private Half* _v;
    private float* _out;
    private int _batch;
    private int _start;
    private int _heads;
    private int _kvHeads;
    private int _headDim;
    private bool _simd;
    private int _next;
    private int _done;

    public AttentionJob(int threads, int contextLength)
    {
        _scores = new float[threads][];
        for (var i = 0; i < threads; i++)
        {
            _scores[i] = new float[contextLength];
        }
    }

    /// <summary>
    /// q: [batch, heads * headDim] rotated queries; k, v: this layer's caches, [context, kvHeads * headDim];
    /// output: [batch, heads * headDim].
    /// </summary>
    public void Run(IJobRunner pool, float* q, Half* k, Half* v, float* output, int batch, int start, int heads, int kvHeads, int headDim, bool simd)
    {
        _q = q;
        _k = k;
        _v = v;
        _out = output;
        (_batch, _start, _heads, _kvHeads, _headDim, _simd) = (batch, start, heads, kvHeads, headDim, simd);
        _next = 0;
        _done = 0;
        pool.Run(this);
    }

    public bool IsFinished => Volatile.Read(ref _done) >= _batch * _heads;

    public void Execute(int threadIndex, int threadCount)
    {
        var scores = _scores[threadIndex];
        var total = _batch * _heads;
        var group = _heads / _kvHeads;
        var kvDim = _kvHeads * _headDim;
        var scale = 1f / MathF.Sqrt(_headDim);
        var dot = DotKernels.Get(Gguf.GgmlType.F16, _simd).Fn;
        int item;
        while ((item = Interlocked.Increment(ref _next) - 1) < total)
        {
            var b = item / _heads;
            var h = item % _heads;
            var kvh = h / group;
            var q = _q + (((long)b * _heads * _headDim) + (h * _headDim));
            var o = _out + (((long)b * _heads * _headDim) + (h * _headDim));
            var len = _start + b + 1;
            var max = float.NegativeInfinity;
            for (var t = 0; t < len; t++)
            {
                var kt = (byte*)(_k + ((long)t * kvDim) + (kvh * _headDim));
                var s = dot(kt, q, null, null, null, _headDim) * scale;
                scores[t] = s;
                max = MathF.Max(max, s);
            }

            double sum = 0;
            for (var t = 0; t < len; t++)
            {
                var e = MathF.Exp(scores[t] - max);
                scores[t] = e;
                sum += e;
            }

            var inv = (float)(1.0 / sum);
            new Span<float>(o, _headDim).Clear();
            for (var t = 0; t < len; t++)
            {
                var vt = (ushort*)(_v + ((long)t * kvDim) + (kvh * _headDim));
                Axpy(scores[t] * inv, vt, o, _headDim, _simd);
            }

            Interlocked.Increment(ref _done);
        }
    }

    /// <summary>y += a * v for fp16 v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, ushort* v, float* y, int n, bool simd)
    {
        var i = 0;
        if (simd && DotKernels.SimdSupported)
        {
            var av = Vector256.Create(a);
            for (; i + 8 <= n; i += 8)
            {
                Avx.Store(y + i, Fma.MultiplyAdd(DotKernels.FiniteHalfToSingle(Sse2.LoadVector128((short*)v + i)), av, Avx.LoadVector256(y + i)));
            }
        }

        for (; i < n; i++)
        {
            y[i] += a * Fp16.ToSingle(v[i]);
        }
    }
}
