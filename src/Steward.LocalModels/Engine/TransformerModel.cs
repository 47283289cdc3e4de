using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>
/// The llama / qwen2 decoder: token embedding, per layer RMSNorm → Q/K/V (+bias for qwen2) → RoPE → causal GQA
/// over an fp16 KV cache → output projection → residual → RMSNorm → SwiGLU FFN → residual; final RMSNorm and
/// the output (or tied embedding) projection. Prompts run as batches (matrix × matrix). Not thread-safe: one
/// caller at a time (the generator and the chat client serialise access).
/// </summary>
internal sealed unsafe class TransformerModel : IDisposable
{
    private readonly GgufFile _file;
    private readonly bool _ownsFile;
    private readonly ComputePool _pool;
    private readonly MatMulJob _matmul = new();
    private readonly AttentionJob _attention;
    private readonly Layer[] _layers;
    private readonly Matrix _tokenEmbedding;
    private readonly Matrix _output;
    private readonly float[] _outputNorm;
    private readonly float[]? _ropeFreqFactors;
    private readonly QuantizedActivations _act;
    private readonly int _batch;
    private readonly int _qDim;
    private readonly int _kvDim;
    private readonly float* _x, _xb, _xb2, _q, _k, _v, _att, _hb, _hb2, _hbTmp, _logits, _rope;
    private readonly Half* _kCache, _vCache;
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
        ContextLength = Math.Min(c.ContextLength, options.ContextLength ?? int.MaxValue);
        if (ContextLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), ContextLength, "The context length must be at least 1.");
        }

        _batch = Math.Max(1, options.BatchSize);
        _qDim = c.HeadCount * c.HeadDim;
        _kvDim = c.KvHeadCount * c.HeadDim;
        var simd = options.UseSimd;

        _tokenEmbedding = new Matrix(file, Require("token_embd.weight"), simd);
        _output = file.FindTensor("output.weight") is { } o ? new Matrix(file, o, simd) : _tokenEmbedding;
        _outputNorm = LoadVector("output_norm.weight", c.EmbeddingLength)!;
        _ropeFreqFactors = LoadVector("rope_freqs.weight", c.RopeDimensions / 2, optional: true);
        _layers = new Layer[c.LayerCount];
        for (var i = 0; i < c.LayerCount; i++)
        {
            _layers[i] = LoadLayer(i, simd);
        }

        _pool = new ComputePool(Math.Max(1, options.Threads));
        _attention = new AttentionJob(_pool.ThreadCount, ContextLength);
        var widest = Math.Max(Math.Max(c.EmbeddingLength, c.FeedForwardLength), _qDim);
        _act = new QuantizedActivations(_batch * widest);
        _x = Alloc<float>(_batch * c.EmbeddingLength);
        _xb = Alloc<float>(_batch * Math.Max(c.EmbeddingLength, _qDim));
        _xb2 = Alloc<float>(_batch * c.EmbeddingLength);
        _q = Alloc<float>(_batch * _qDim);
        _k = Alloc<float>(_batch * _kvDim);
        _v = Alloc<float>(_batch * _kvDim);
        _att = Alloc<float>(_batch * _qDim);
        _hb = Alloc<float>(_batch * c.FeedForwardLength);
        _hb2 = Alloc<float>(_batch * c.FeedForwardLength);
        _hbTmp = Alloc<float>(_batch * c.FeedForwardLength);
        _logits = Alloc<float>(_output.Rows);
        _rope = Alloc<float>(_batch * c.RopeDimensions);
        var cacheElements = (long)c.LayerCount * ContextLength * _kvDim;
        _kCache = Alloc<Half>(cacheElements);
        _vCache = Alloc<Half>(cacheElements);
    }

    public ModelConfig Config { get; }

    public EngineOptions Options { get; }

    public int ContextLength { get; }

    public int VocabSize => _output.Rows;

    public int Threads => _pool.ThreadCount;

    public GgufFile File => _file;

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions <paramref name="startPosition"/>.. (the KV cache must hold the
    /// positions before it) and returns the logits of the last token. The span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Forward(scoped ReadOnlySpan<int> tokens, int startPosition, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("At least one token is required.", nameof(tokens));
        }

        if (startPosition < 0 || startPosition + tokens.Length > ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(startPosition), $"Positions {startPosition}..{startPosition + tokens.Length - 1} exceed the context of {ContextLength}.");
        }

        for (var i = 0; i < tokens.Length; i += _batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = Math.Min(_batch, tokens.Length - i);
            ForwardBatch(tokens.Slice(i, n), startPosition + i, computeLogits: i + n == tokens.Length);
        }

        return new ReadOnlySpan<float>(_logits, _output.Rows);
    }

    private void ForwardBatch(ReadOnlySpan<int> tokens, int start, bool computeLogits)
    {
        var c = Config;
        var n = tokens.Length;
        var embd = c.EmbeddingLength;
        for (var b = 0; b < n; b++)
        {
            if ((uint)tokens[b] >= (uint)_tokenEmbedding.Rows)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[b], $"Token id outside the vocabulary of {_tokenEmbedding.Rows}.");
            }

            _tokenEmbedding.DequantizeRow(tokens[b], _x + (b * embd));
        }

        PrepareRope(n, start);
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            RmsNorm(_x, layer.AttnNorm, _xb, n, embd, c.RmsEpsilon);
            _act.SetSource(_xb, n, embd);
            _matmul.Run(_pool, _act, layer.Wq, _q, layer.Wk, _k, layer.Wv, _v);
            AddBias(_q, layer.Bq, n, _qDim);
            AddBias(_k, layer.Bk, n, _kvDim);
            AddBias(_v, layer.Bv, n, _kvDim);
            ApplyRope(_q, n, c.HeadCount);
            ApplyRope(_k, n, c.KvHeadCount);

            var layerOffset = (long)l * ContextLength * _kvDim;
            var kLayer = _kCache + layerOffset;
            var vLayer = _vCache + layerOffset;
            var count = n * _kvDim;
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(_k, count), new Span<Half>(kLayer + ((long)start * _kvDim), count));
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(_v, count), new Span<Half>(vLayer + ((long)start * _kvDim), count));

            _attention.Run(_pool, _q, kLayer, vLayer, _att, n, start, c.HeadCount, c.KvHeadCount, c.HeadDim, Options.UseSimd);
            _act.SetSource(_att, n, _qDim);
            _matmul.Run(_pool, _act, layer.Wo, _xb2);
            Add(_x, _xb2, n * embd);

            RmsNorm(_x, layer.FfnNorm, _xb, n, embd, c.RmsEpsilon);
            _act.SetSource(_xb, n, embd);
            _matmul.Run(_pool, _act, layer.Gate, _hb, layer.Up, _hb2);
            SwiGlu(_hb, _hb2, n * c.FeedForwardLength);
            _act.SetSource(_hb, n, c.FeedForwardLength);
            _matmul.Run(_pool, _act, layer.Down, _xb2);
            Add(_x, _xb2, n * embd);
        }

        if (computeLogits)
        {
            RmsNorm(_x + ((n - 1) * embd), _outputNorm, _xb, 1, embd, c.RmsEpsilon);
            _act.SetSource(_xb, 1, embd);
            _matmul.Run(_pool, _act, _output, _logits);
        }
    }

    /// <summary>cos/sin per token and rotary pair, computed like ggml (theta multiplied up in float).</summary>
    private void PrepareRope(int n, int start)
    {
        var c = Config;
        var half = c.RopeDimensions / 2;
        var thetaScale = MathF.Pow(c.RopeFreqBase, -2f / c.RopeDimensions);
        for (var b = 0; b < n; b++)
        {
            var theta = (float)(start + b);
            var row = _rope + (b * c.RopeDimensions);
            for (var i = 0; i < half; i++)
            {
                var ff = _ropeFreqFactors is null ? 1f : _ropeFreqFactors[i];
                var t = c.RopeFreqScale * theta / ff;
                row[2 * i] = MathF.Cos(t);
                row[(2 * i) + 1] = MathF.Sin(t);
                theta *= thetaScale;
            }
        }
    }

    private void ApplyRope(float* x, int n, int heads)
    {
        var c = Config;
        var half = c.RopeDimensions / 2;
        var hd = c.HeadDim;
        for (var b = 0; b < n; b++)
        {
            var cs = _rope + (b * c.RopeDimensions);
            for (var h = 0; h < heads; h++)
            {
                var v = x + (((long)b * heads * hd) + (h * hd));
                for (var i = 0; i < half; i++)
                {
                    float cos = cs[2 * i], sin = cs[(2 * i) + 1];
                    var (i0, i1) = c.RopeMode == RopeMode.Normal ? (2 * i, (2 * i) + 1) : (i, i + half);
                    float x0 = v[i0], x1 = v[i1];
                    v[i0] = (x0 * cos) - (x1 * sin);
                    v[i1] = (x0 * sin) + (x1 * cos);
                }
            }
        }
    }

    /// <summary>ggml's rms_norm (sum of squares in double) followed by the elementwise weight.</summary>
    private static void RmsNorm(float* x, float[] weight, float* y, int n, int dim, float eps)
    {
        for (var b = 0; b < n; b++)
        {
            var xr = x + (b * dim);
            var yr = y + (b * dim);
            double sum = 0;
            for (var i = 0; i < dim; i++)
            {
                sum += xr[i] * (double)xr[i];
            }

            var scale = 1f / MathF.Sqrt((float)(sum / dim) + eps);
            for (var i = 0; i < dim; i++)
            {
                yr[i] = xr[i] * scale * weight[i];
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
            TensorPrimitives.Add(new ReadOnlySpan<float>(x + (b * dim), dim), bias, new Span<float>(x + (b * dim), dim));
        }
    }

    private static void Add(float* x, float* y, int count) =>
        TensorPrimitives.Add(new ReadOnlySpan<float>(x, count), new ReadOnlySpan<float>(y, count), new Span<float>(x, count));

    /// <summary>gate = silu(gate) * up, with the vectorised sigmoid (silu(g) = g * sigmoid(g)).</summary>
    private void SwiGlu(float* gate, float* up, int count)
    {
        var g = new Span<float>(gate, count);
        var tmp = new Span<float>(_hbTmp, count);
        TensorPrimitives.Sigmoid(g, tmp);
        TensorPrimitives.Multiply(g, tmp, tmp);
        TensorPrimitives.Multiply(tmp, new ReadOnlySpan<float>(up, count), g);
    }

    private Layer LoadLayer(int i, bool simd)
    {
        var p = $"blk.{i}.";
        var c = Config;
        var layer = new Layer
        {
            AttnNorm = LoadVector(p + "attn_norm.weight", c.EmbeddingLength)!,
            Wq = new Matrix(_file, Require(p + "attn_q.weight"), simd),
            Wk = new Matrix(_file, Require(p + "attn_k.weight"), simd),
            Wv = new Matrix(_file, Require(p + "attn_v.weight"), simd),
            Wo = new Matrix(_file, Require(p + "attn_output.weight"), simd),
            Bq = LoadVector(p + "attn_q.bias", _qDim, optional: true),
            Bk = LoadVector(p + "attn_k.bias", _kvDim, optional: true),
            Bv = LoadVector(p + "attn_v.bias", _kvDim, optional: true),
            FfnNorm = LoadVector(p + "ffn_norm.weight", c.EmbeddingLength)!,
            Gate = new Matrix(_file, Require(p + "ffn_gate.weight"), simd),
            Up = new Matrix(_file, Require(p + "ffn_up.weight"), simd),
            Down = new Matrix(_file, Require(p + "ffn_down.weight"), simd),
        };
        CheckShape(layer.Wq, c.EmbeddingLength, _qDim);
        CheckShape(layer.Wk, c.EmbeddingLength, _kvDim);
        CheckShape(layer.Wv, c.EmbeddingLength, _kvDim);
        CheckShape(layer.Wo, _qDim, c.EmbeddingLength);
        CheckShape(layer.Gate, c.EmbeddingLength, c.FeedForwardLength);
        CheckShape(layer.Up, c.EmbeddingLength, c.FeedForwardLength);
        CheckShape(layer.Down, c.FeedForwardLength, c.EmbeddingLength);
        return layer;
    }

    private void CheckShape(Matrix m, int cols, int rows)
    {
        if (m.Cols != cols || m.Rows != rows)
        {
            throw new GgufFormatException($"GGUF file '{_file.Path}': tensor '{m.Name}' is [{m.Cols}, {m.Rows}] but the hyperparameters need [{cols}, {rows}].") { FilePath = _file.Path };
        }
    }

    private GgufTensorInfo Require(string name) =>
        _file.FindTensor(name) ?? throw new GgufFormatException($"GGUF file '{_file.Path}': tensor '{name}' is missing.") { FilePath = _file.Path };

    private float[]? LoadVector(string name, int length, bool optional = false)
    {
        var t = _file.FindTensor(name);
        if (t is null)
        {
            return optional ? null : throw new GgufFormatException($"GGUF file '{_file.Path}': tensor '{name}' is missing.") { FilePath = _file.Path };
        }

        if (t.ElementCount != length)
        {
            throw new GgufFormatException($"GGUF file '{_file.Path}': tensor '{name}' has {t.ElementCount} elements, expected {length}.") { FilePath = _file.Path };
        }

        var result = new float[length];
        fixed (float* r = result)
        {
            Dequantizer.Row(t.Type, _file.GetTensorPointer(t), r, length);
        }

        return result;
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

    private sealed class Layer
    {
        public required float[] AttnNorm { get; init; }

        public required Matrix Wq { get; init; }

        public required Matrix Wk { get; init; }

        public required Matrix Wv { get; init; }

        public required Matrix Wo { get; init; }

        public float[]? Bq { get; init; }

        public float[]? Bk { get; init; }

        public float[]? Bv { get; init; }

        public required float[] FfnNorm { get; init; }

        public required Matrix Gate { get; init; }

        public required Matrix Up { get; init; }

        public required Matrix Down { get; init; }
    }
}
