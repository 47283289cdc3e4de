using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Steward.LocalModels.Engine.Numerics;

namespace Steward.LocalModels.Engine;

/// <summary>Which of ggml's flash-attention routines a query row goes through (each sums in its own order).</summary>
internal enum AttentionPath
{
    /// <summary>ggml_compute_forward_flash_attn_ext_f16_one_chunk: online softmax over the keys, Q and the output accumulator in fp16.</summary>
    OneChunk,

    /// <summary>The tiled routine used for 64 or more query rows: 64-key tiles, Q and the accumulator in fp32.</summary>
    Tiled,

    /// <summary>One query row over 512 or more cache cells: the keys split into one chunk per thread, then merged.</summary>
    SplitKv,
}

/// <summary>One query row: its position, the KV cache it reads (this layer's, its sequence's) and the routine.</summary>
internal unsafe struct AttentionRow
{
    public float* Q;
    public float* Output;
    public Half* K;
    public Half* V;
    public int Position;
    public AttentionPath Path;
}

/// <summary>
/// Causal grouped-query attention over the fp16 KV cache, reproducing llama.cpp's CPU flash attention (which it uses by
/// default) operation for operation, parallel over (row, head) pairs, or over key chunks for a long single row.
/// </summary>
internal sealed unsafe class FlashAttention : IParallelJob, IDisposable
{
    private const int Tile = 64;

    /// <summary>Most query heads of one KV head attended together (<see cref="OneChunkGroup"/>).</summary>
    private const int MaxGroup = 4;
    private readonly int _threads;
    private readonly int _headDim;
    private readonly float* _scratch;
    private readonly int _scratchPerThread;
    private readonly float* _partials;
    private AttentionRow* _rows;
    private int _rowCount;
    private int _heads;
    private int _kvHeads;
    private int _kvStride;
    private int _ratio;
    private int _group;
    private int _headGroups;
    private float _scale;
    private int _nKv;
    private int _chunk;
    private int _items;
    private int _next;
    private int _done;
    private bool _split;
    private bool _tiled;
    private bool _disposed;

    public FlashAttention(int threads, int heads, int headDim)
    {
        _threads = threads;
        _headDim = headDim;
        // Per thread: Q in fp16 precision, 64 scores, and (tiled path) a 64-key tile of K (transposed) and V in float,
        // with each row's running maximum and sum.
        _scratchPerThread = (2 * headDim) + Tile + (2 * Tile * headDim) + (2 * Tile) + 64;
        _scratch = (float*)NativeMemory.AlignedAlloc((nuint)(threads * _scratchPerThread * sizeof(float)), 64);
        _partials = (float*)NativeMemory.AlignedAlloc((nuint)(heads * threads * (headDim + 2) * sizeof(float)), 64);
    }

    public bool IsFinished => Volatile.Read(ref _done) >= _items;

    /// <summary>
    /// Attends every row to its cache positions 0..Position. <paramref name="kvHeads"/> × head dimension is the stride
    /// of one cache position. All rows of one call must use the same path when it is <see cref="AttentionPath.SplitKv"/>
    /// (one row), whose key chunks depend on <paramref name="nKv"/>, the cache cells llama.cpp's graph would span.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(IJobRunner pool, AttentionRow* rows, int count, int heads, int kvHeads, float scale, int nKv)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _rows = rows;
        _rowCount = count;
        _heads = heads;
        _kvHeads = kvHeads;
        _kvStride = kvHeads * _headDim;
        _scale = scale;
        _nKv = nKv;
        _split = count == 1 && rows[0].Path == AttentionPath.SplitKv;
        _ratio = heads / kvHeads;
        _group = Math.Min(_ratio, MaxGroup);
        if (_split)
        {
            // ggml splits the cells among the threads it runs with, not the ones that show up.
            _chunk = (nKv + _threads - 1) / _threads;
            SetGroups(_group);
            _items = _headGroups * _threads;
        }
        else if (rows[0].Path == AttentionPath.Tiled)
        {
            // A head and a block of up to 64 consecutive rows share each key/value tile, unpacked once.
            _tiled = true;
            _items = heads * ((count + Tile - 1) / Tile);
        }
        else
        {
            // Smaller groups when there would be too few pieces to keep every thread busy.
            _tiled = false;
            var g = _group;
            while (g > 1 && count * kvHeads * ((_ratio + g - 1) / g) < 2 * _threads)
            {
                g--;
            }

            SetGroups(g);
            _items = count * _headGroups;
        }

        _next = 0;
        _done = 0;
        pool.Run(this);
        if (_split)
        {
            for (var h = 0; h < heads; h++)
            {
                MergeChunks(h, rows[0].Output + (h * _headDim));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int threadIndex, int threadCount)
    {
        var scratch = _scratch + (threadIndex * _scratchPerThread);
        var q = stackalloc float*[MaxGroup];
        var o = stackalloc float*[MaxGroup];
        var m = stackalloc float[MaxGroup];
        var s = stackalloc float[MaxGroup];
        int item;
        while ((item = Interlocked.Increment(ref _next) - 1) < _items)
        {
            if (_split)
            {
                var c = item % _threads;
                var row = _rows[0];
                var (kvh, h0, g) = HeadGroup(item / _threads);
                for (var j = 0; j < g; j++)
                {
                    q[j] = row.Q + ((h0 + j) * _headDim);
                    o[j] = _partials + ((((h0 + j) * _threads) + c) * (_headDim + 2)) + 2;
                }

                var start = c * _chunk;
                var end = Math.Min(start + _chunk, _nKv);
                OneChunkGroup(g, q, row.K + (kvh * _headDim), row.V + (kvh * _headDim), start, Math.Min(end, row.Position + 1), scratch, o, m, s);
                for (var j = 0; j < g; j++)
                {
                    o[j][-2] = m[j];
                    o[j][-1] = s[j];
                }
            }
            else if (_tiled)
            {
                var h = item % _heads;
                var first = item / _heads * Tile;
                TiledBlock(h, first, Math.Min(first + Tile, _rowCount), scratch);
            }
            else
            {
                var row = _rows[item / _headGroups];
                var (kvh, h0, g) = HeadGroup(item % _headGroups);
                for (var j = 0; j < g; j++)
                {
                    q[j] = row.Q + ((h0 + j) * _headDim);
                    o[j] = row.Output + ((h0 + j) * _headDim);
                }

                OneChunkGroup(g, q, row.K + (kvh * _headDim), row.V + (kvh * _headDim), 0, row.Position + 1, scratch, o, m, s);
                for (var j = 0; j < g; j++)
                {
                    Scale(o[j], _headDim, s[j] == 0 ? 0 : 1f / s[j]);
                }
            }

            Interlocked.Increment(ref _done);
        }
    }

    /// <summary>Query heads in groups of <paramref name="g"/> per KV head (the last group of a KV head may be smaller).</summary>
    private void SetGroups(int g)
    {
        _group = g;
        _headGroups = _kvHeads * ((_ratio + g - 1) / g);
    }

    /// <summary>Group <paramref name="index"/>'s KV head, first query head and number of query heads.</summary>
    private (int KvHead, int FirstHead, int Count) HeadGroup(int index)
    {
        var perKv = (_ratio + _group - 1) / _group;
        var kvh = index / perKv;
        var first = (index % perKv) * _group;
        return (kvh, (kvh * _ratio) + first, Math.Min(_group, _ratio - first));
    }

    /// <summary>
    /// ggml's one_chunk over cells [from, to) for <paramref name="g"/> query heads that share a KV head: Q rounded to
    /// fp16, each score a ggml_vec_dot_f16, the running output kept in fp16 (rescaled when the maximum grows, then
    /// v × exp(s − M) added with an FMA), S = S·ms + vs with the product rounded first. Leaves each head's unnormalised
    /// output in output[j], its maximum score in maxScore[j] and its sum in sum[j].
    /// <para>
    /// The heads go key by key together, each head's operations in ggml's order: a key's and a value's fp16 row is
    /// widened once for all of them, and the heads' accumulator updates overlap. One head alone is a chain of dependent
    /// roundings from one key to the next (about 40 cycles a key), which made a decoded token's attention cost a
    /// fifth of SmolLM2's weight streaming at 150 positions.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void OneChunkGroup(int g, float** q, Half* k, Half* v, int from, int to, float* scratch, float** output, float* maxScore, float* sum)
    {
        var d = _headDim;
        var np = d & ~63;
        var vec = d & ~15;
        var f16 = Fp16.Table;
        var q16 = scratch;
        var ms = stackalloc float[MaxGroup];
        var vs = stackalloc float[MaxGroup];
        var acc = stackalloc Vector512<float>[4 * MaxGroup];
        for (var j = 0; j < g; j++)
        {
            Activations.RoundToHalf(q[j], q16 + (j * d), d);
            new Span<float>(output[j], d).Clear();
            maxScore[j] = float.NegativeInfinity;
            sum[j] = 0f;
        }

        for (var ic = from; ic < to; ic++)
        {
            // Scores: FloatKernels.DotF16 per head (four 16-lane FMA chains over each 64 elements, reduced, the tail in double).
            var kr = (ushort*)(k + ((long)ic * _kvStride));
            for (var j = 0; j < 4 * g; j++)
            {
                acc[j] = default;
            }

            for (var i = 0; i < np; i += 64)
            {
                var k0 = FloatKernels.Half16(kr + i);
                var k1 = FloatKernels.Half16(kr + i + 16);
                var k2 = FloatKernels.Half16(kr + i + 32);
                var k3 = FloatKernels.Half16(kr + i + 48);
                for (var j = 0; j < g; j++)
                {
                    var qj = q16 + (j * d) + i;
                    var a = acc + (4 * j);
                    a[0] = Vector512.FusedMultiplyAdd(k0, Vector512.Load(qj), a[0]);
                    a[1] = Vector512.FusedMultiplyAdd(k1, Vector512.Load(qj + 16), a[1]);
                    a[2] = Vector512.FusedMultiplyAdd(k2, Vector512.Load(qj + 32), a[2]);
                    a[3] = Vector512.FusedMultiplyAdd(k3, Vector512.Load(qj + 48), a[3]);
                }
            }

            for (var j = 0; j < g; j++)
            {
                var a = acc + (4 * j);
                double dot = GgmlFloat.Reduce16((a[0] + a[2]) + (a[1] + a[3]));
                for (var i = np; i < d; i++)
                {
                    dot += f16[kr[i]] * q16[(j * d) + i];
                }

                var score = (float)dot * _scale;
                score += 0f; // the mask of a visible cell
                ms[j] = 1f;
                vs[j] = 1f;
                var m = maxScore[j];
                if (score > m)
                {
                    maxScore[j] = score;
                    ms[j] = MathF.Exp(m - score);
                    ScaleHalf(output[j], d, ms[j]);
                }
                else
                {
                    vs[j] = MathF.Exp(score - m);
                }
            }

            // ggml_vec_mad_f16 per head: y = fp16(fma(v, vs, y)).
            var vr = (ushort*)(v + ((long)ic * _kvStride));
            for (var i = 0; i < vec; i += 16)
            {
                var vv = FloatKernels.Half16(vr + i);
                for (var j = 0; j < g; j++)
                {
                    var y = output[j] + i;
                    Vector512.Store(GgmlFloat.RoundToHalf(Vector512.FusedMultiplyAdd(vv, Vector512.Create(vs[j]), Vector512.Load(y))), y);
                }
            }

            for (var i = vec; i < d; i++)
            {
                var x = f16[vr[i]];
                for (var j = 0; j < g; j++)
                {
                    output[j][i] = GgmlFloat.RoundToHalf(MathF.FusedMultiplyAdd(x, vs[j], output[j][i]));
                }
            }

            for (var j = 0; j < g; j++)
            {
                sum[j] = (sum[j] * ms[j]) + vs[j];
            }
        }
    }

    /// <summary>
    /// ggml's tiled routine for head <paramref name="h"/> and rows [first, end) (consecutive positions of one sequence):
    /// 64-key tiles unpacked to float once for all the rows; each row's scores are FMA chains over the head dimension in
    /// fp32 (Q is not rounded here), computed 16 keys at a time, the tile's softmax uses the vectorised exp summed in
    /// double, and V is accumulated in fp32, 16 output lanes at a time, key by key in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TiledBlock(int h, int first, int end, float* scratch)
    {
        var f16 = Fp16.Table;
        var d = _headDim;
        var kvh = h / (_heads / _kvHeads);
        var kq = scratch + (2 * d);
        var kt = kq + Tile;                 // [d][64] keys, transposed
        var vt = kt + (Tile * d);           // [64][d] values
        var sums = vt + (Tile * d);         // per row: S
        var maxes = sums + Tile;            // per row: M
        var k = _rows[first].K + (kvh * d);
        var v = _rows[first].V + (kvh * d);
        var lastPosition = _rows[end - 1].Position;
        for (var r = first; r < end; r++)
        {
            new Span<float>(_rows[r].Output + (h * d), d).Clear();
            sums[r - first] = 0f;
            maxes[r - first] = float.NegativeInfinity;
        }

        for (var ic = 0; ic <= lastPosition; ic += Tile)
        {
            var keys = Math.Min(Tile, lastPosition - ic + 1);
            for (var t = 0; t < keys; t++)
            {
                var kr = (ushort*)(k + ((long)(ic + t) * _kvStride));
                var vr = (ushort*)(v + ((long)(ic + t) * _kvStride));
                for (var j = 0; j < d; j++)
                {
                    kt[(j * Tile) + t] = f16[kr[j]];
                }

                ToFloat(vr, vt + (t * d), d);
            }

            for (var r = first; r < end; r++)
            {
                var position = _rows[r].Position;
                if (position < ic)
                {
                    continue;
                }

                var visible = Math.Min(keys, position - ic + 1);
                Scores(_rows[r].Q + (h * d), kt, d, kq);
                for (var t = visible; t < Tile; t++)
                {
                    kq[t] = float.NegativeInfinity;
                }

                var tileMax = float.NegativeInfinity;
                for (var t = 0; t < Tile; t++)
                {
                    tileMax = MathF.Max(tileMax, kq[t]);
                }

                var output = _rows[r].Output + (h * d);
                var m = maxes[r - first];
                var mNew = MathF.Max(m, tileMax);
                if (mNew > m)
                {
                    var ms = MathF.Exp(m - mNew);
                    Scale(output, d, ms);
                    sums[r - first] *= ms;
                }

                maxes[r - first] = mNew;
                sums[r - first] = (float)(sums[r - first] + GgmlFloat.SoftMax(Tile, kq, kq, mNew));
                for (var t = 0; t < visible; t++)
                {
                    Axpy(vt + (t * d), kq[t], output, d);
                }
            }
        }

        for (var r = first; r < end; r++)
        {
            var s = sums[r - first];
            Scale(_rows[r].Output + (h * d), d, s == 0 ? 0 : 1f / s);
        }
    }

    /// <summary>64 scores: acc[t] = fma(K[t][j], q[j], acc[t]) over j in order, then × scale + the visible mask (0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scores(float* q, float* kt, int d, float* kq)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (var j = 0; j < d; j++)
        {
            var qj = Vector512.Create(q[j]);
            var row = kt + (j * Tile);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), qj, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), qj, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), qj, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), qj, a3);
        }

        var scale = Vector512.Create(_scale);
        Vector512.Store((a0 * scale) + Vector512<float>.Zero, kq);
        Vector512.Store((a1 * scale) + Vector512<float>.Zero, kq + 16);
        Vector512.Store((a2 * scale) + Vector512<float>.Zero, kq + 32);
        Vector512.Store((a3 * scale) + Vector512<float>.Zero, kq + 48);
    }

    /// <summary>y = fma(v, a, y), element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float* v, float a, float* y, int n)
    {
        var i = 0;
        var av = Vector512.Create(a);
        for (; i + 16 <= n; i += 16)
        {
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(v + i), av, Vector512.Load(y + i)), y + i);
        }

        for (; i < n; i++)
        {
            y[i] = MathF.FusedMultiplyAdd(v[i], a, y[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ToFloat(ushort* h, float* f, int n)
    {
        var i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector512.Store(FloatKernels.Half16(h + i), f + i);
        }

        for (; i < n; i++)
        {
            f[i] = Fp16.Table[h[i]];
        }
    }

    /// <summary>ggml_flash_attn_ext_reduce_partials for one head: chunks merged in order, skipping empty ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MergeChunks(int head, float* output)
    {
        var d = _headDim;
        new Span<float>(output, d).Clear();
        var mFinal = float.NegativeInfinity;
        var sFinal = 0f;
        for (var c = 0; c < _threads; c++)
        {
            if (c * _chunk >= _nKv)
            {
                continue;
            }

            var partial = _partials + (((head * _threads) + c) * (d + 2));
            float mChunk = partial[0], sChunk = partial[1];
            if (sChunk == 0f)
            {
                continue;
            }

            var mNew = MathF.Max(mFinal, mChunk);
            var scaleOld = MathF.Exp(mFinal - mNew);
            var scaleNew = MathF.Exp(mChunk - mNew);
            for (var j = 0; j < d; j++)
            {
                output[j] = MathF.FusedMultiplyAdd(output[j], scaleOld, partial[2 + j] * scaleNew);
            }

            sFinal = MathF.FusedMultiplyAdd(sFinal, scaleOld, sChunk * scaleNew);
            mFinal = mNew;
        }

        if (sFinal != 0f)
        {
            Scale(output, d, 1f / sFinal);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* y, int n, float v)
    {
        var i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector512.Store(Vector512.Load(y + i) * v, y + i);
        }

        for (; i < n; i++)
        {
            y[i] *= v;
        }
    }

    /// <summary>ggml_vec_scale_f16 on an fp16 accumulator held as floats: y = fp16(y · v).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleHalf(float* y, int n, float v)
    {
        var i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector512.Store(GgmlFloat.RoundToHalf(Vector512.Load(y + i) * v), y + i);
        }

        for (; i < n; i++)
        {
            y[i] = GgmlFloat.RoundToHalf(y[i] * v);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.AlignedFree(_scratch);
        NativeMemory.AlignedFree(_partials);
    }
}
