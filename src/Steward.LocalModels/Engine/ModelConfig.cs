using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Engine;

/// <summary>Rotary embedding pairing: adjacent pairs (llama's "normal" mode) or halves (NeoX, used by qwen2).</summary>
internal enum RopeMode
{
    Normal,
    NeoX,
}

/// <summary>Hyperparameters read from GGUF metadata under the architecture prefix, with llama.cpp's defaults.</summary>
internal sealed record ModelConfig
{
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["llama", "qwen2"];

    public required string Architecture { get; init; }

    public required int EmbeddingLength { get; init; }

    public required int LayerCount { get; init; }

    public required int HeadCount { get; init; }

    public required int KvHeadCount { get; init; }

    public required int HeadDim { get; init; }

    public required int FeedForwardLength { get; init; }

    public required int ContextLength { get; init; }

    public required int VocabSize { get; init; }

    public required float RmsEpsilon { get; init; }

    public required int RopeDimensions { get; init; }

    public required float RopeFreqBase { get; init; }

    /// <summary>1 / linear scaling factor (ggml's freq_scale); 1 when the model is not scaled.</summary>
    public required float RopeFreqScale { get; init; }

    public required RopeMode RopeMode { get; init; }

    /// <exception cref="GgufFormatException">Unknown architecture or a required key missing.</exception>
    public static ModelConfig FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var arch = file.GetString("general.architecture")
            ?? throw Error(file, "metadata key 'general.architecture' is missing");
        if (!SupportedArchitectures.Contains(arch))
        {
            throw Error(file, $"unknown architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");
        }

        int Required(string key) => (int)(file.GetInteger($"{arch}.{key}") ?? throw Error(file, $"metadata key '{arch}.{key}' is missing"));

        var embd = Required("embedding_length");
        var heads = Required("attention.head_count");
        var kvHeads = (int?)file.GetInteger($"{arch}.attention.head_count_kv") ?? heads;
        var headDim = (int?)file.GetInteger($"{arch}.attention.key_length") ?? (embd / heads);
        var tokenEmbd = file.FindTensor("token_embd.weight") ?? throw Error(file, "tensor 'token_embd.weight' is missing");
        var scaleType = file.GetString($"{arch}.rope.scaling.type");
        var factor = file.GetSingle($"{arch}.rope.scaling.factor") ?? 0f;
        var freqScale = 1f;
        if (scaleType is null or "linear" && factor > 0 && factor != 1f)
        {
            freqScale = 1f / factor;
        }
        else if (scaleType is not (null or "none" or "linear"))
        {
            throw Error(file, $"rope scaling type '{scaleType}' is not supported (supported: none, linear)");
        }

        if (heads % kvHeads != 0)
        {
            throw Error(file, $"{heads} attention heads are not a multiple of {kvHeads} KV heads");
        }

        return new ModelConfig
        {
            Architecture = arch,
            EmbeddingLength = embd,
            LayerCount = Required("block_count"),
            HeadCount = heads,
            KvHeadCount = kvHeads,
            HeadDim = headDim,
            FeedForwardLength = Required("feed_forward_length"),
            ContextLength = Required("context_length"),
            VocabSize = (int)tokenEmbd.Dimensions[1],
            RmsEpsilon = file.GetSingle($"{arch}.attention.layer_norm_rms_epsilon") ?? 1e-5f,
            RopeDimensions = (int?)file.GetInteger($"{arch}.rope.dimension_count") ?? headDim,
            RopeFreqBase = file.GetSingle($"{arch}.rope.freq_base") ?? 10000f,
            RopeFreqScale = freqScale,
            RopeMode = arch == "qwen2" ? RopeMode.NeoX : RopeMode.Normal,
        };
    }

    private static GgufFormatException Error(GgufFile file, string problem) =>
        new($"GGUF file '{file.Path}': {problem}.") { FilePath = file.Path };
}
