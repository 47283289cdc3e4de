using System.Globalization;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>Rotary embedding pairing: adjacent pairs (llama's "normal" mode) or halves (NeoX: qwen2, qwen3, phi3).</summary>
internal enum RopeMode
{
    Normal,
    NeoX,
}

/// <summary>
/// Hyperparameters read from GGUF metadata under the architecture prefix, with llama.cpp's defaults, and checked
/// against the tensors the file really holds: every dimension the engine will allocate or index by is either read
/// off a tensor or proven consistent with one, so a file cannot make the engine divide by zero, overflow, or allocate
/// for layers and heads it does not contain. Errors name the file and the metadata key or tensor.
/// </summary>
internal sealed record ModelConfig
{
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["llama", "qwen2", "qwen3", "phi3"];

    private const int MaxLayers = 1024;
    private const int MaxHeads = 1024;
    private const int MaxHeadDim = 1024;
    private const int MaxWidth = 1 << 20;

    public required string Architecture { get; init; }

    public required int EmbeddingLength { get; init; }

    public required int LayerCount { get; init; }

    public required int HeadCount { get; init; }

    public required int KvHeadCount { get; init; }

    public required int HeadDim { get; init; }

    public required int FeedForwardLength { get; init; }

    /// <summary>The training context (<c>{arch}.context_length</c>), capped at <see cref="int.MaxValue"/>.</summary>
    public required int ContextLength { get; init; }

    public required int VocabSize { get; init; }

    public required float RmsEpsilon { get; init; }

    public required int RopeDimensions { get; init; }

    public required float RopeFreqBase { get; init; }

    /// <summary>1 / linear scaling factor (ggml's freq_scale); 1 when the model is not scaled.</summary>
    public required float RopeFreqScale { get; init; }

    public required RopeMode RopeMode { get; init; }

    /// <summary>Q and K are RMS-normalised per head before RoPE (qwen3).</summary>
    public bool QkNorm => Architecture == "qwen3";

    /// <summary>Q is multiplied by 1/√head_dim before attention instead of the scores after (phi3).</summary>
    public bool ScaleQueries => Architecture == "phi3";

    /// <summary>Q, K and V come from one fused projection (<c>attn_qkv</c>).</summary>
    public required bool FusedQkv { get; init; }

    /// <summary>Gate and up come from one fused projection (<c>ffn_up</c> of twice the width, phi3).</summary>
    public bool FusedGateUp => Architecture == "phi3";

    public int QueryDim => HeadCount * HeadDim;

    public int KvDim => KvHeadCount * HeadDim;

    /// <summary>Reads and validates the hyperparameters of <paramref name="file"/>.</summary>
    /// <exception cref="GgufFormatException">Unknown architecture, a key missing or out of range, or a tensor that does not fit the hyperparameters.</exception>
    public static ModelConfig FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var arch = file.GetString("general.architecture")
            ?? throw Error(file, "metadata key 'general.architecture' is missing");
        if (!SupportedArchitectures.Contains(arch))
        {
            throw Error(file, $"unknown architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");
        }

        var tokenEmbd = file.FindTensor("token_embd.weight") ?? throw Error(file, "tensor 'token_embd.weight' is missing");
        if (tokenEmbd.Dimensions.Length != 2)
        {
            throw Error(file, $"tensor 'token_embd.weight' has {tokenEmbd.Dimensions.Length} dimensions; [embedding, vocabulary] expected");
        }

        var embd = Int(file, $"{arch}.embedding_length", 1, MaxWidth, null);
        if ((ulong)embd != tokenEmbd.Dimensions[0])
        {
            throw Error(file, $"metadata '{arch}.embedding_length' is {embd} but tensor 'token_embd.weight' has rows of {tokenEmbd.Dimensions[0]}");
        }

        var vocab = tokenEmbd.Dimensions[1] is var v and >= 1 and <= int.MaxValue ? (int)v
            : throw Error(file, $"tensor 'token_embd.weight' declares a vocabulary of {tokenEmbd.Dimensions[1]} tokens");
        var layers = Int(file, $"{arch}.block_count", 1, MaxLayers, null);
        var present = CountLayers(file);
        if (present != layers)
        {
            throw Error(file, $"metadata '{arch}.block_count' is {layers} but the file has tensors for {present} layers");
        }

        var heads = Int(file, $"{arch}.attention.head_count", 1, MaxHeads, null);
        var kvHeads = Int(file, $"{arch}.attention.head_count_kv", 1, heads, heads);
        if (heads % kvHeads != 0)
        {
            throw Error(file, $"metadata '{arch}.attention.head_count' ({heads}) is not a multiple of '{arch}.attention.head_count_kv' ({kvHeads})");
        }

        int headDim;
        if (file.Metadata.ContainsKey($"{arch}.attention.key_length"))
        {
            headDim = Int(file, $"{arch}.attention.key_length", 1, MaxHeadDim, null);
        }
        else if (embd % heads == 0)
        {
            headDim = embd / heads;
        }
        else
        {
            throw Error(file, $"metadata '{arch}.embedding_length' ({embd}) is not a multiple of '{arch}.attention.head_count' ({heads}) and '{arch}.attention.key_length' is missing");
        }

        if (file.Metadata.ContainsKey($"{arch}.attention.value_length") && Int(file, $"{arch}.attention.value_length", 1, MaxHeadDim, null) != headDim)
        {
            throw Error(file, $"metadata '{arch}.attention.value_length' differs from the key length {headDim}, which the engine does not support");
        }

        var ropeDims = Int(file, $"{arch}.rope.dimension_count", 2, headDim, headDim);
        if (ropeDims % 2 != 0)
        {
            throw Error(file, $"metadata '{arch}.rope.dimension_count' ({ropeDims}) must be even");
        }

        var config = new ModelConfig
        {
            Architecture = arch,
            EmbeddingLength = embd,
            LayerCount = layers,
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = headDim,
            FeedForwardLength = Int(file, $"{arch}.feed_forward_length", 1, MaxWidth, null),
            ContextLength = (int)Math.Min(int.MaxValue, Long(file, $"{arch}.context_length", 1)),
            VocabSize = vocab,
            RmsEpsilon = Single(file, $"{arch}.attention.layer_norm_rms_epsilon", 1e-5f, allowZero: true),
            RopeDimensions = ropeDims,
            RopeFreqBase = Single(file, $"{arch}.rope.freq_base", 10000f, allowZero: false),
            RopeFreqScale = FreqScale(file, arch),
            RopeMode = arch == "llama" ? RopeMode.Normal : RopeMode.NeoX,
            FusedQkv = file.FindTensor("blk.0.attn_qkv.weight") is not null,
        };
        config.CheckTensors(file);
        return config;
    }

    /// <summary>Every tensor the forward pass reads, with the shape the hyperparameters imply (ggml order).</summary>
    public IEnumerable<(string Name, long[] Shape, bool Required, string Because)> ExpectedTensors()
    {
        var a = Architecture;
        string Key(string k) => $"'{a}.{k}'";
        var headsBecause = $"{Key("attention.head_count")} × head dimension {HeadDim}";
        var kvBecause = $"{Key("attention.head_count_kv")} × head dimension {HeadDim}";
        var ffBecause = Key("feed_forward_length");
        yield return ("output_norm.weight", [EmbeddingLength], true, Key("embedding_length"));
        yield return ("output.weight", [EmbeddingLength, VocabSize], false, "the vocabulary of token_embd.weight");
        if (a == "llama")
        {
            yield return ("rope_freqs.weight", [RopeDimensions / 2], false, Key("rope.dimension_count"));
        }

        for (var i = 0; i < LayerCount; i++)
        {
            var p = $"blk.{i}.";
            yield return (p + "attn_norm.weight", [EmbeddingLength], true, Key("embedding_length"));
            if (FusedQkv)
            {
                yield return (p + "attn_qkv.weight", [EmbeddingLength, QueryDim + (2 * KvDim)], true, $"{headsBecause} plus twice {kvBecause}");
            }
            else
            {
                yield return (p + "attn_q.weight", [EmbeddingLength, QueryDim], true, headsBecause);
                yield return (p + "attn_k.weight", [EmbeddingLength, KvDim], true, kvBecause);
                yield return (p + "attn_v.weight", [EmbeddingLength, KvDim], true, kvBecause);
                yield return (p + "attn_q.bias", [QueryDim], false, headsBecause);
                yield return (p + "attn_k.bias", [KvDim], false, kvBecause);
                yield return (p + "attn_v.bias", [KvDim], false, kvBecause);
            }

            if (QkNorm)
            {
                yield return (p + "attn_q_norm.weight", [HeadDim], true, "the head dimension");
                yield return (p + "attn_k_norm.weight", [HeadDim], true, "the head dimension");
            }

            yield return (p + "attn_output.weight", [QueryDim, EmbeddingLength], true, headsBecause);
            yield return (p + "ffn_norm.weight", [EmbeddingLength], true, Key("embedding_length"));
            if (FusedGateUp)
            {
                yield return (p + "ffn_up.weight", [EmbeddingLength, 2L * FeedForwardLength], true, $"twice {ffBecause}");
            }
            else
            {
                yield return (p + "ffn_gate.weight", [EmbeddingLength, FeedForwardLength], true, ffBecause);
                yield return (p + "ffn_up.weight", [EmbeddingLength, FeedForwardLength], true, ffBecause);
            }

            yield return (p + "ffn_down.weight", [FeedForwardLength, EmbeddingLength], true, ffBecause);
        }
    }

    private void CheckTensors(GgufFile file)
    {
        foreach (var (name, shape, required, because) in ExpectedTensors())
        {
            var t = file.FindTensor(name);
            if (t is null)
            {
                if (required)
                {
                    throw Error(file, $"tensor '{name}' is missing");
                }

                continue;
            }

            var dims = t.Dimensions.Reverse().SkipWhile(d => d == 1).Reverse().ToArray();
            var expected = shape.Reverse().SkipWhile(d => d == 1).Reverse().ToArray();
            if (dims.Length != expected.Length || !dims.Zip(expected).All(p => p.First == (ulong)p.Second))
            {
                throw Error(file, $"tensor '{name}' is [{string.Join(", ", t.Dimensions)}] but {because} needs [{string.Join(", ", shape)}]");
            }
        }
    }

    /// <summary>The number of distinct blk.N prefixes; an index beyond the count makes it disagree with block_count.</summary>
    private static int CountLayers(GgufFile file)
    {
        var max = -1;
        var seen = new HashSet<int>();
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith("blk.", StringComparison.Ordinal))
            {
                continue;
            }

            var dot = t.Name.IndexOf('.', 4);
            if (dot > 4 && int.TryParse(t.Name.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                seen.Add(n);
                max = Math.Max(max, n);
            }
        }

        return max + 1 == seen.Count ? seen.Count : -1;
    }

    private static float FreqScale(GgufFile file, string arch)
    {
        var scaleType = file.GetString($"{arch}.rope.scaling.type");
        if (scaleType is not (null or "none" or "linear"))
        {
            throw Error(file, $"metadata '{arch}.rope.scaling.type' is '{scaleType}', which the engine does not support (supported: none, linear)");
        }

        var factor = file.Metadata.ContainsKey($"{arch}.rope.scaling.factor") ? Single(file, $"{arch}.rope.scaling.factor", 1f, allowZero: true) : 0f;
        return scaleType is null or "linear" && factor > 0 && factor != 1f ? 1f / factor : 1f;
    }

    private static int Int(GgufFile file, string key, int min, int max, int? fallback)
    {
        if (!file.Metadata.ContainsKey(key))
        {
            return fallback ?? throw Error(file, $"metadata key '{key}' is missing");
        }

        var value = file.GetInteger(key) ?? throw Error(file, $"metadata '{key}' is not an integer");
        if (value < min || value > max)
        {
            throw Error(file, $"metadata '{key}' is {value}, outside {min}..{max}");
        }

        return (int)value;
    }

    private static long Long(GgufFile file, string key, long min)
    {
        var value = file.GetInteger(key) ?? throw Error(file, $"metadata key '{key}' is missing or not an integer");
        return value >= min ? value : throw Error(file, $"metadata '{key}' is {value}, below {min}");
    }

    private static float Single(GgufFile file, string key, float fallback, bool allowZero)
    {
        if (!file.Metadata.ContainsKey(key))
        {
            return fallback;
        }

        var value = file.GetSingle(key) ?? throw Error(file, $"metadata '{key}' is not a number");
        if (!float.IsFinite(value) || value < 0 || (!allowZero && value == 0))
        {
            throw Error(file, $"metadata '{key}' is {value.ToString(CultureInfo.InvariantCulture)}; a finite {(allowZero ? "non-negative" : "positive")} number is required");
        }

        return value;
    }

    private static GgufFormatException Error(GgufFile file, string problem) =>
        new($"GGUF file '{file.Path}': {problem}.") { FilePath = file.Path };
}
