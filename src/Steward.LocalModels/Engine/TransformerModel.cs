using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>
/// The llama-family decoder (llama, qwen2, qwen3, phi3): token embedding, per layer RMSNorm → Q/K/V (+biases, +Q/K
/// norms) → RoPE → flash attention over an fp16 KV cache → output projection → residual → RMSNorm → SwiGLU FFN →
/// residual; final RMSNorm and the output (or tied embedding) projection.
/// <para>
/// Every step reproduces llama.cpp's CPU arithmetic, including the choices llama.cpp makes by batch size: a prompt is
/// split into ubatches of up to 512 tokens; a ubatch of two or more tokens multiplies through tinyBLAS, one token
/// through vec_dot; 64 or more use tiled attention; and the last layer runs its FFN for the output token only. Rows
/// are processed <see cref="EngineOptions.BatchSize"/> at a time to bound memory, which does not change the results.
/// </para>
/// Not thread-safe: one caller at a time (the generator and the chat client serialise access).
/// </summary>
internal sealed unsafe class TransformerModel : IDisposable
{
    /// <summary>llama.cpp's default ubatch; which kernels run depends on how many tokens a ubatch has.</summary>
    public const int UbatchLimit = 512;

    private readonly GgufFile _file;
    private readonly bool _ownsFile;
    private readonly ComputePool _pool;
    private readonly MatMulJob _matmul = new();
    private readonly FlashAttention _attention;
    private readonly ModelWeights _w;
    private readonly Activations _act;
    private readonly KvCache _kv;
    private readonly Rope _rope;
    private readonly int _batch;
    private readonly float* _x, _xb, _xb2, _q, _k, _v, _qkv, _att, _gate, _up, _logits;
    private readonly AttentionRow* _rows;
    private readonly int[] _positions;
    private readonly int[] _slotOf;
    private readonly List<nint> _allocations = [];
    private bool _disposed;

    public TransformerModel(GgufFile file, EngineOptions options, bool ownsFile = false)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(options);
        _file = file;
        _ownsFile = ownsFile;
        Config = ModelConfig.FromGguf(file);
        Options = options;
        var c = Config;
        (ContextLength, ContextLimitReason) = ChooseContext(file, c, options);
        _batch = Math.Clamp(options.BatchSize, 1, UbatchLimit);
        _w = new ModelWeights(file, c, options.UseSimd);
        _pool = new ComputePool(Math.Max(1, options.Threads));
        _attention = new FlashAttention(_pool.ThreadCount, c.HeadCount, c.HeadDim);
        _rope = new Rope(c, _w.RopeFreqFactors, _batch);
        var ff = c.FeedForwardLength;
        var widest = Math.Max(Math.Max(c.EmbeddingLength, ff), c.QueryDim);
        _act = new Activations(_batch * widest);
        _x = Alloc<float>(_batch * c.EmbeddingLength);
        _xb = Alloc<float>(_batch * Math.Max(c.EmbeddingLength, c.QueryDim));
        _xb2 = Alloc<float>(_batch * c.EmbeddingLength);
        _q = Alloc<float>(_batch * c.QueryDim);
        _k = Alloc<float>(_batch * c.KvDim);
        _v = Alloc<float>(_batch * c.KvDim);
        _qkv = c.FusedQkv ? Alloc<float>(_batch * (c.QueryDim + (2 * c.KvDim))) : null;
        _att = Alloc<float>(_batch * c.QueryDim);
        _gate = Alloc<float>(_batch * ff);
        _up = Alloc<float>(_batch * (c.FusedGateUp ? 2 * ff : ff));
        _kv = new KvCache(Math.Max(1, options.Slots), c.LayerCount, ContextLength, c.KvDim);
        _logits = Alloc<float>((long)_w.Output.Rows * Math.Min(_batch, _kv.Slots));
        _rows = Alloc<AttentionRow>(_batch);
        _positions = new int[_batch];
        _slotOf = new int[_batch];
    }

    public ModelConfig Config { get; }

    public EngineOptions Options { get; }

    /// <summary>The context window in effect, per slot.</summary>
    public int ContextLength { get; }

    /// <summary>Why <see cref="ContextLength"/> is below what the options and the model allow, or null when it is not.</summary>
    public string? ContextLimitReason { get; }

    public int VocabSize => _w.Output.Rows;

    public int Threads => _pool.ThreadCount;

    /// <summary>Sequences that can be held at once, each with its own KV cache region.</summary>
    public int Slots => _kv.Slots;

    public GgufFile File => _file;

    /// <summary>Bytes of weights one generated token reads (the memory-bandwidth floor of generation).</summary>
    public long WeightBytesPerToken => _w.BytesPerToken;

    /// <summary>Runs <paramref name="tokens"/> in slot 0; see <see cref="Forward(int, ReadOnlySpan{int}, int, CancellationToken)"/>.</summary>
    public ReadOnlySpan<float> Forward(scoped ReadOnlySpan<int> tokens, int startPosition, CancellationToken cancellationToken = default) =>
        Forward(0, tokens, startPosition, cancellationToken);

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions <paramref name="startPosition"/>.. of slot <paramref name="slot"/>
    /// (its KV cache must hold the positions before it) and returns the logits of the last token. The span is valid
    /// until the next call.
    /// </summary>
    public ReadOnlySpan<float> Forward(int slot, scoped ReadOnlySpan<int> tokens, int startPosition, CancellationToken cancellationToken = default)
    {
        CheckSequence(slot, tokens, startPosition);
        for (var i = 0; i < tokens.Length; i += UbatchLimit)
        {
            var n = Math.Min(UbatchLimit, tokens.Length - i);
            Ubatch(slot, tokens.Slice(i, n), startPosition + i, i + n == tokens.Length, cancellationToken);
        }

        return new ReadOnlySpan<float>(_logits, VocabSize);
    }

    /// <summary>
    /// One llama.cpp ubatch of at most <see cref="UbatchLimit"/> tokens of one slot; the logits of its last token are
    /// computed when <paramref name="wantLogits"/> (returned; empty otherwise). A prompt fed ubatch by ubatch from its
    /// start computes exactly what <see cref="Forward(int, ReadOnlySpan{int}, int, CancellationToken)"/> does, so other
    /// work can run between its ubatches.
    /// </summary>
    public ReadOnlySpan<float> ForwardUbatch(int slot, scoped ReadOnlySpan<int> tokens, int startPosition, bool wantLogits, CancellationToken cancellationToken = default)
    {
        CheckSequence(slot, tokens, startPosition);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tokens.Length, UbatchLimit);
        Ubatch(slot, tokens, startPosition, wantLogits, cancellationToken);
        return wantLogits ? new ReadOnlySpan<float>(_logits, VocabSize) : default;
    }

    /// <summary>Rows the model can decode in one <see cref="Decode"/> call (one per slot).</summary>
    public int MaxDecodeRows => Math.Min(_batch, Slots);

    /// <summary>
    /// Generation for several sequences at once: token <c>tokens[i]</c> at position <c>positions[i]</c> of slot
    /// <c>slots[i]</c> (distinct slots); returns the logits of row i at [i × vocab ..], valid until the next call.
    /// Each row is computed exactly as a single-token <see cref="Forward(int, ReadOnlySpan{int}, int, CancellationToken)"/>
    /// of its slot would (ggml's one-row vec_dot products and attention), so a sequence's output does not depend on
    /// what else runs with it; the rows share each weight read, which is what makes several sequences cheaper
    /// together than one after another.
    /// </summary>
    public ReadOnlySpan<float> Decode(ReadOnlySpan<int> slots, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions)
    {
        var m = tokens.Length;
        if (m == 0 || m > MaxDecodeRows || slots.Length != m || positions.Length != m)
        {
            throw new ArgumentException($"Decode takes 1 to {MaxDecodeRows} rows with one slot and position each.", nameof(tokens));
        }

        for (var b = 0; b < m; b++)
        {
            CheckSequence(slots[b], tokens.Slice(b, 1), positions[b]);
            if (slots[..b].Contains(slots[b]))
            {
                throw new ArgumentException($"Slot {slots[b]} appears twice in one decode.", nameof(slots));
            }

            _slotOf[b] = slots[b];
            _positions[b] = positions[b];
        }

        Rows(tokens, MatMulOp.Gemv, AttentionPath.OneChunk, 0, m);
        return new ReadOnlySpan<float>(_logits, m * VocabSize);
    }

    private void CheckSequence(int slot, ReadOnlySpan<int> tokens, int startPosition)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Slots);
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("At least one token is required.", nameof(tokens));
        }

        if (startPosition < 0 || startPosition + tokens.Length > ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(startPosition), $"Positions {startPosition}..{startPosition + tokens.Length - 1} exceed the context of {ContextLength}.");
        }

        foreach (var t in tokens)
        {
            if ((uint)t >= (uint)_w.TokenEmbedding.Rows)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id outside the vocabulary of {_w.TokenEmbedding.Rows}.");
            }
        }
    }

    /// <summary>One llama.cpp ubatch: its size decides the kernels; rows go through the layers a batch at a time.</summary>
    private void Ubatch(int slot, ReadOnlySpan<int> tokens, int start, bool wantLogits, CancellationToken cancellationToken)
    {
        var n = tokens.Length;
        var path = n >= 64 ? AttentionPath.Tiled
            : n == 1 && CacheCells(start + 1) >= 512 ? AttentionPath.SplitKv
            : AttentionPath.OneChunk;
        for (var sub = 0; sub < n; sub += _batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var m = Math.Min(_batch, n - sub);
            var final = sub + m == n;
            for (var b = 0; b < m; b++)
            {
                _slotOf[b] = slot;
                _positions[b] = start + sub + b;
            }

            Rows(tokens.Slice(sub, m), new MatMulOp(n, sub), path, start + n, final && wantLogits ? 1 : 0);
        }
    }

    /// <summary>The cache cells llama.cpp's graph spans when positions 0..used−1 are filled (padded to 256).</summary>
    private static int CacheCells(int used) => Math.Max(256, (used + 255) / 256 * 256);

    /// <summary>
    /// Rows b of <paramref name="tokens"/> at _positions[b] of slot _slotOf[b] through every layer; the last
    /// <paramref name="outputRows"/> rows get logits (in order from _logits). <paramref name="ubatchEnd"/> is the cache
    /// extent of a one-slot ubatch, or 0 when each row is its own one-token ubatch (decoding several slots).
    /// </summary>
    private void Rows(ReadOnlySpan<int> tokens, MatMulOp op, AttentionPath path, int ubatchEnd, int outputRows)
    {
        var c = Config;
        var m = tokens.Length;
        var embd = c.EmbeddingLength;
        for (var b = 0; b < m; b++)
        {
            _w.TokenEmbedding.DequantizeRow(tokens[b], _x + (b * embd));
        }

        _rope.Prepare(_positions.AsSpan(0, m));
        var scale = c.ScaleQueries ? 1f : 1f / MathF.Sqrt(c.HeadDim);
        for (var l = 0; l < _w.Layers.Length; l++)
        {
            var layer = _w.Layers[l];
            var last = l == _w.Layers.Length - 1;
            RmsNorm(_x, layer.AttnNorm, _xb, m, embd, c.RmsEpsilon);
            _act.SetSource(_xb, m, embd);
            Project(layer, m, op);
            StoreKv(l, m);
            if (last && outputRows == 0)
            {
                continue; // the last layer's output is read for the logits only; its K and V are stored
            }

            // The last layer attends and projects the output rows only (llama.cpp selects them before the FFN).
            var first = last ? m - outputRows : 0;
            var rows = m - first;
            Attend(l, first, rows, path, ubatchEnd, scale);
            _act.SetSource(_att, m, c.QueryDim);
            _matmul.Run(_pool, _act, first, rows, op, layer.Wo, _xb2);
            Add(_x + (first * embd), _xb2 + (first * embd), rows * embd);

            RmsNorm(_x + (first * embd), layer.FfnNorm, _xb, rows, embd, c.RmsEpsilon);
            _act.SetSource(_xb, rows, embd);
            FeedForward(layer, rows, last && outputRows == 1 ? MatMulOp.Gemv : op); // a prompt's last FFN: a product over its output row only
            Add(_x + (first * embd), _xb2, rows * embd);
        }

        if (outputRows > 0)
        {
            RmsNorm(_x + ((m - outputRows) * embd), _w.OutputNorm, _xb, outputRows, embd, c.RmsEpsilon);
            _act.SetSource(_xb, outputRows, embd);
            _matmul.Run(_pool, _act, 0, outputRows, MatMulOp.Gemv, _w.Output, _logits);
        }
    }

    /// <summary>
    /// Attention for rows [first, first + rows). A ubatch of one slot runs together on its path; rows decoded for
    /// different slots each take the path and cache extent a one-token ubatch at their position would (llama.cpp
    /// splits the keys of a lone row over 512 or more cells), the short ones together.
    /// </summary>
    private void Attend(int layer, int first, int rows, AttentionPath path, int ubatchEnd, float scale)
    {
        var c = Config;
        var together = 0;
        for (var b = first; b < first + rows; b++)
        {
            if (RowPath(b) != AttentionPath.SplitKv)
            {
                _rows[together++] = Row(b, path);
            }
        }

        if (together > 0)
        {
            _attention.Run(_pool, _rows, together, c.HeadCount, c.KvHeadCount, scale, 0);
        }

        for (var b = first; b < first + rows; b++)
        {
            if (RowPath(b) == AttentionPath.SplitKv)
            {
                _rows[0] = Row(b, AttentionPath.SplitKv);
                _attention.Run(_pool, _rows, 1, c.HeadCount, c.KvHeadCount, scale, CacheCells(ubatchEnd > 0 ? ubatchEnd : _positions[b] + 1));
            }
        }

        AttentionPath RowPath(int b) => ubatchEnd > 0 ? path
            : CacheCells(_positions[b] + 1) >= 512 ? AttentionPath.SplitKv
            : AttentionPath.OneChunk;

        AttentionRow Row(int b, AttentionPath p) => new()
        {
            Q = _q + ((long)b * c.QueryDim),
            Output = _att + ((long)b * c.QueryDim),
            K = _kv.K(_slotOf[b], layer),
            V = _kv.V(_slotOf[b], layer),
            Position = _positions[b],
            Path = p,
        };
    }

    /// <summary>Q, K, V for all rows: projections, biases, per-head norms (qwen3), RoPE, and phi3's query scaling.</summary>
    private void Project(ModelWeights.Layer layer, int m, MatMulOp op)
    {
        var c = Config;
        if (layer.Wqkv is { } wqkv)
        {
            _matmul.Run(_pool, _act, 0, m, op, wqkv, _qkv);
            var width = c.QueryDim + (2 * c.KvDim);
            for (var b = 0; b < m; b++)
            {
                var src = _qkv + ((long)b * width);
                new ReadOnlySpan<float>(src, c.QueryDim).CopyTo(new Span<float>(_q + ((long)b * c.QueryDim), c.QueryDim));
                new ReadOnlySpan<float>(src + c.QueryDim, c.KvDim).CopyTo(new Span<float>(_k + ((long)b * c.KvDim), c.KvDim));
                new ReadOnlySpan<float>(src + c.QueryDim + c.KvDim, c.KvDim).CopyTo(new Span<float>(_v + ((long)b * c.KvDim), c.KvDim));
            }
        }
        else
        {
            _matmul.Run(_pool, _act, 0, m, op, layer.Wq!, _q, layer.Wk!, _k, layer.Wv!, _v);
        }

        AddBias(_q, layer.Bq, m, c.QueryDim);
        AddBias(_k, layer.Bk, m, c.KvDim);
        AddBias(_v, layer.Bv, m, c.KvDim);
        if (layer.QNorm is { } qn)
        {
            RmsNorm(_q, qn, _q, m * c.HeadCount, c.HeadDim, c.RmsEpsilon);
            RmsNorm(_k, layer.KNorm!, _k, m * c.KvHeadCount, c.HeadDim, c.RmsEpsilon);
        }

        _rope.Apply(_q, m, c.HeadCount);
        _rope.Apply(_k, m, c.KvHeadCount);
        if (c.ScaleQueries)
        {
            var s = 1.0f / MathF.Sqrt(c.HeadDim);
            var q = new Span<float>(_q, m * c.QueryDim);
            TensorPrimitives.Multiply(q, s, q);
        }
    }

    private void StoreKv(int layer, int m)
    {
        var kvDim = Config.KvDim;
        for (var b = 0; b < m; b++)
        {
            // Consecutive rows of one slot go in one conversion.
            var run = 1;
            while (b + run < m && _slotOf[b + run] == _slotOf[b] && _positions[b + run] == _positions[b] + run)
            {
                run++;
            }

            var count = run * kvDim;
            var offset = (long)_positions[b] * kvDim;
            var src = (long)b * kvDim;
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(_k + src, count), new Span<Half>(_kv.K(_slotOf[b], layer) + offset, count));
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(_v + src, count), new Span<Half>(_kv.V(_slotOf[b], layer) + offset, count));
            b += run - 1;
        }
    }

    /// <summary>Gate and up (or phi3's fused up), SwiGLU row by row as ggml does (its vector/tail split is per row), down into _xb2.</summary>
    private void FeedForward(ModelWeights.Layer layer, int rows, MatMulOp op)
    {
        var ff = Config.FeedForwardLength;
        if (layer.Gate is { } gate)
        {
            _matmul.Run(_pool, _act, 0, rows, op, gate, _gate, layer.Up, _up);
            for (var b = 0; b < rows; b++)
            {
                GgmlFloat.SwiGlu(ff, _gate + ((long)b * ff), _gate + ((long)b * ff), _up + ((long)b * ff));
            }
        }
        else
        {
            _matmul.Run(_pool, _act, 0, rows, op, layer.Up, _up);
            for (var b = 0; b < rows; b++)
            {
                var row = _up + ((long)b * 2 * ff);
                GgmlFloat.SwiGlu(ff, _gate + ((long)b * ff), row, row + ff);
            }
        }

        _act.SetSource(_gate, rows, ff);
        _matmul.Run(_pool, _act, 0, rows, op, layer.Down, _xb2);
    }

    /// <summary>ggml's rms_norm fused with the weight: squares summed in double (each rounded to float first), y = x·scale·w.</summary>
    private static void RmsNorm(float* x, float[] weight, float* y, int n, int dim, float eps)
    {
        fixed (float* w = weight)
        {
            for (var b = 0; b < n; b++)
            {
                var xr = x + ((long)b * dim);
                var yr = y + ((long)b * dim);
                double sum = 0;
                for (var i = 0; i < dim; i++)
                {
                    sum += xr[i] * xr[i];
                }

                var mean = (float)(sum / dim);
                var scale = 1.0f / MathF.Sqrt(mean + eps);
                for (var i = 0; i < dim; i++)
                {
                    yr[i] = xr[i] * scale * w[i];
                }
            }
        }
    }

    private static void AddBias(float* x, float[]? bias, int n, int dim)
    {
        if (bias is null)
        {
            return;
        }

        for (var b = 0; b < n; b++)
        {
            TensorPrimitives.Add(new ReadOnlySpan<float>(x + ((long)b * dim), dim), bias, new Span<float>(x + ((long)b * dim), dim));
        }
    }

    private static void Add(float* x, float* y, int count) =>
        TensorPrimitives.Add(new ReadOnlySpan<float>(x, count), new ReadOnlySpan<float>(y, count), new Span<float>(x, count));

    /// <summary>
    /// The context per slot: the smaller of the model's and the options', then capped so that every slot's KV cache fits
    /// in half the memory available to the process (a file declaring a huge context or a very wide cache cannot make the
    /// engine reserve more than the machine has).
    /// </summary>
    private static (int Context, string? Reason) ChooseContext(GgufFile file, ModelConfig c, EngineOptions options)
    {
        var requested = Math.Min(c.ContextLength, options.ContextLength ?? int.MaxValue);
        if (requested < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), requested, "The context length must be at least 1.");
        }

        var slots = Math.Max(1, options.Slots);
        var perPosition = KvCache.BytesPerPosition(c.LayerCount, c.KvDim) * slots;
        var budget = options.MemoryBudgetBytes ?? (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2);
        var fits = budget / perPosition;
        if (fits >= requested)
        {
            return (requested, null);
        }

        if (fits < 16)
        {
            throw new GgufFormatException(
                $"GGUF file '{file.Path}': its KV cache needs {perPosition:N0} bytes per position ({c.LayerCount} layers × {c.KvDim} key/value width{(slots > 1 ? $" × {slots} slots" : "")}), so not even 16 positions fit in the {budget:N0} bytes available.")
            { FilePath = file.Path };
        }

        var context = (int)Math.Min(fits, requested);
        return (context, $"context capped at {context:N0} tokens (of {requested:N0}): the KV cache takes {perPosition:N0} bytes per position and {budget:N0} bytes are available for it");
    }

    private T* Alloc<T>(long count)
        where T : unmanaged
    {
        var bytes = (nuint)(Math.Max(1, count) * sizeof(T));
        var p = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(p, bytes);
        _allocations.Add((nint)p);
        return (T*)p;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _pool.Dispose();
        _act.Dispose();
        _attention.Dispose();
        _kv.Dispose();
        foreach (var p in _allocations)
        {
            NativeMemory.AlignedFree((void*)p);
        }

        _allocations.Clear();
        if (_ownsFile)
        {
            _file.Dispose();
        }
    }
}
