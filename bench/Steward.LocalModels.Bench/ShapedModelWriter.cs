using System.Globalization;
using Steward.LocalModels.Engine.Numerics;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// The shape of a real model (layer count, widths, heads, vocabulary, RoPE settings, tied or separate output) to
/// generate with random weights: speed does not depend on the weights' values, and llama.cpp loads the same file.
/// </summary>
internal sealed record ModelShape(
    string Name, string Architecture, int Layers, int Embedding, int Heads, int KvHeads, int HeadDim, int FeedForward, int Vocab, int Context,
    bool Tied, float RopeBase, float RmsEpsilon, bool QkvBias = false, bool Llama3RopeFreqs = false)
{
    public static ModelShape SmolLM2_135M { get; } = new("smollm2-135m", "llama", 30, 576, 9, 3, 64, 1536, 49152, 8192, Tied: true, 100000f, 1e-5f);

    public static ModelShape Qwen25_05B { get; } = new("qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 64, 4864, 151936, 32768, Tied: true, 1000000f, 1e-6f, QkvBias: true);

    public static ModelShape Llama32_1B { get; } = new("llama-3.2-1b", "llama", 16, 2048, 32, 8, 64, 8192, 128256, 131072, Tied: true, 500000f, 1e-5f, Llama3RopeFreqs: true);

    public static ModelShape Qwen3_06B { get; } = new("qwen3-0.6b", "qwen3", 28, 1024, 16, 8, 128, 3072, 151936, 40960, Tied: true, 1000000f, 1e-6f);

    public static ModelShape Phi3Mini { get; } = new("phi-3-mini-4k", "phi3", 32, 3072, 32, 32, 96, 8192, 32064, 4096, Tied: false, 10000f, 1e-5f);

    public static IReadOnlyList<ModelShape> All { get; } = [SmolLM2_135M, Qwen25_05B, Llama32_1B, Qwen3_06B, Phi3Mini];

    /// <summary>The same layer shapes with fewer layers and a smaller vocabulary (small enough for a unit test).</summary>
    public ModelShape Reduced(int layers, int vocab) =>
        this with { Name = string.Create(CultureInfo.InvariantCulture, $"{Name}-{layers}l-{vocab}v"), Layers = layers, Vocab = vocab };
}

/// <summary>How the weight matrices are stored: one type for all, or llama.cpp's Q4_K_M mix.</summary>
internal enum WeightMix
{
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4_K_M,
}

/// <summary>
/// Writes a random-weight model of a <see cref="ModelShape"/> with a valid SentencePiece ("llama") tokenizer section,
/// so llama.cpp loads the same file. Deterministic: every row's values come from a seeded SplitMix64 stream named by
/// tensor and row, so the same call writes the same bytes on any machine (the golden fixtures depend on it).
/// Projections are scaled by 1/√fan-in and norms sit near 1, so activations stay well conditioned over many layers.
/// </summary>
internal static class ShapedModelWriter
{
    /// <summary>Writes the model into <paramref name="folder"/> unless that file exists already; returns its path.</summary>
    public static string Ensure(string folder, ModelShape shape, WeightMix mix, ulong seed = 1234)
    {
        var path = Path.Combine(folder, $"{shape.Name}-{mix.ToString().ToLowerInvariant()}.gguf");
        if (File.Exists(path))
        {
            return path;
        }

        Directory.CreateDirectory(folder);
        var tmp = path + ".tmp";
        Build(shape, mix, seed).Write(tmp);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    public static GgufWriter Build(ModelShape shape, WeightMix mix, ulong seed = 1234)
    {
        var a = shape.Architecture;
        var s = shape;
        var w = new GgufWriter()
            .Add("general.architecture", a)
            .Add("general.name", s.Name)
            .Add($"{a}.context_length", (uint)s.Context)
            .Add($"{a}.embedding_length", (uint)s.Embedding)
            .Add($"{a}.block_count", (uint)s.Layers)
            .Add($"{a}.feed_forward_length", (uint)s.FeedForward)
            .Add($"{a}.attention.head_count", (uint)s.Heads)
            .Add($"{a}.attention.head_count_kv", (uint)s.KvHeads)
            .Add($"{a}.attention.key_length", (uint)s.HeadDim)
            .Add($"{a}.attention.value_length", (uint)s.HeadDim)
            .Add($"{a}.rope.freq_base", s.RopeBase)
            .Add($"{a}.rope.dimension_count", (uint)s.HeadDim)
            .Add($"{a}.attention.layer_norm_rms_epsilon", s.RmsEpsilon)
            .Add($"{a}.vocab_size", (uint)s.Vocab)
            .Add("general.file_type", mix switch { WeightMix.F32 => 0u, WeightMix.F16 => 1u, WeightMix.Q8_0 => 7u, WeightMix.Q4_0 => 2u, _ => 15u });
        // llama.cpp looks Phi-3's end-of-text marker up by name when the model name says phi-3.
        AddTokenizer(w, s.Vocab, a == "phi3" ? ["<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>"] : []);

        var e = s.Embedding;
        var q = s.Heads * s.HeadDim;
        var kv = s.KvHeads * s.HeadDim;
        var ff = s.FeedForward;
        // A tied embedding is also the output projection: at unit scale every token would predict itself (the residual
        // stream is mostly its own embedding), so it is kept small and the layers' contribution decides the logits.
        Matrix(w, "token_embd.weight", TypeFor(mix, "token_embd", s, 0, e), e, s.Vocab, s.Tied ? 0.01f : 1f, seed);
        Vector(w, "output_norm.weight", e, 1f, 0.1f, seed);
        if (!s.Tied)
        {
            Matrix(w, "output.weight", TypeFor(mix, "output", s, 0, e), e, s.Vocab, 1f / MathF.Sqrt(e), seed);
        }

        if (s.Llama3RopeFreqs)
        {
            w.AddTensor("rope_freqs.weight", GgmlType.F32, [(ulong)(s.HeadDim / 2)], Llama3Factors(s.HeadDim, s.RopeBase));
        }

        for (var l = 0; l < s.Layers; l++)
        {
            var p = $"blk.{l}.";
            Vector(w, p + "attn_norm.weight", e, 1f, 0.1f, seed);
            if (a == "phi3")
            {
                Matrix(w, p + "attn_qkv.weight", TypeFor(mix, "attn_qkv", s, l, e), e, q + (2 * kv), 1f / MathF.Sqrt(e), seed);
            }
            else
            {
                Matrix(w, p + "attn_q.weight", TypeFor(mix, "attn_q", s, l, e), e, q, 1f / MathF.Sqrt(e), seed);
                Matrix(w, p + "attn_k.weight", TypeFor(mix, "attn_k", s, l, e), e, kv, 1f / MathF.Sqrt(e), seed);
                Matrix(w, p + "attn_v.weight", TypeFor(mix, "attn_v", s, l, e), e, kv, 1f / MathF.Sqrt(e), seed);
            }

            if (s.QkvBias)
            {
                Vector(w, p + "attn_q.bias", q, 0f, 0.5f, seed);
                Vector(w, p + "attn_k.bias", kv, 0f, 0.5f, seed);
                Vector(w, p + "attn_v.bias", kv, 0f, 0.5f, seed);
            }

            if (a == "qwen3")
            {
                Vector(w, p + "attn_q_norm.weight", s.HeadDim, 1f, 0.1f, seed);
                Vector(w, p + "attn_k_norm.weight", s.HeadDim, 1f, 0.1f, seed);
            }

            Matrix(w, p + "attn_output.weight", TypeFor(mix, "attn_output", s, l, q), q, e, 1f / MathF.Sqrt(q), seed);
            Vector(w, p + "ffn_norm.weight", e, 1f, 0.1f, seed);
            if (a == "phi3")
            {
                Matrix(w, p + "ffn_up.weight", TypeFor(mix, "ffn_up", s, l, e), e, 2 * ff, 1f / MathF.Sqrt(e), seed);
            }
            else
            {
                Matrix(w, p + "ffn_gate.weight", TypeFor(mix, "ffn_gate", s, l, e), e, ff, 1f / MathF.Sqrt(e), seed);
                Matrix(w, p + "ffn_up.weight", TypeFor(mix, "ffn_up", s, l, e), e, ff, 1f / MathF.Sqrt(e), seed);
            }

            Matrix(w, p + "ffn_down.weight", TypeFor(mix, "ffn_down", s, l, ff), ff, e, 1f / MathF.Sqrt(ff), seed);
        }

        return w;
    }

    /// <summary>The storage type of one matrix: the mix's type, or llama.cpp's choice for Q4_K_M (with its fallbacks for rows not a multiple of 256).</summary>
    private static GgmlType TypeFor(WeightMix mix, string role, ModelShape s, int layer, int cols)
    {
        var type = mix switch
        {
            WeightMix.F32 => GgmlType.F32,
            WeightMix.F16 => GgmlType.F16,
            WeightMix.Q8_0 => GgmlType.Q8_0,
            WeightMix.Q4_0 => role == "output" || (role == "token_embd" && s.Tied) ? GgmlType.Q6_K : GgmlType.Q4_0,
            _ => role switch
            {
                "output" => GgmlType.Q6_K,
                "token_embd" => s.Tied ? GgmlType.Q6_K : GgmlType.Q4_K,
                "attn_v" or "ffn_down" => MoreBits(layer, s.Layers) ? GgmlType.Q6_K : GgmlType.Q4_K,
                "attn_qkv" => GgmlType.Q5_K,
                _ => GgmlType.Q4_K,
            },
        };
        if (cols % GgmlTypeInfo.BlockElements(type) != 0)
        {
            type = type switch { GgmlType.Q4_K => GgmlType.Q5_0, GgmlType.Q5_K => GgmlType.Q5_1, GgmlType.Q6_K => GgmlType.Q8_0, _ => type };
        }

        return cols % GgmlTypeInfo.BlockElements(type) == 0 ? type : GgmlType.F16;
    }

    private static bool MoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - (n / 8)) % 3 == 2;

    private static void Matrix(GgufWriter w, string name, GgmlType type, int cols, int rows, float scale, ulong seed)
    {
        var rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        w.AddTensor(name, type, [(ulong)cols, (ulong)rows], () =>
        {
            var data = new byte[(long)rowBytes * rows];
            Parallel.For(0, (rows + 63) / 64, chunk =>
            {
                var values = new float[cols];
                for (var r = chunk * 64; r < Math.Min(rows, (chunk + 1) * 64); r++)
                {
                    Fill(values, Hash(seed, name, r), 0f, scale);
                    Quantizer.QuantizeRow(type, values, data.AsSpan(r * rowBytes, rowBytes));
                }
            });
            return data;
        });
    }

    private static void Vector(GgufWriter w, string name, int n, float center, float spread, ulong seed)
    {
        var values = new float[n];
        Fill(values, Hash(seed, name, 0), center, spread);
        w.AddTensor(name, GgmlType.F32, [(ulong)n], values);
    }

    /// <summary>Llama 3's RoPE frequency divisors as the converter computes them (factor 32, low 1, high 4, original context 8192).</summary>
    private static float[] Llama3Factors(int headDim, float theta)
    {
        const double factor = 32, low = 1, high = 4, original = 8192;
        var result = new float[headDim / 2];
        for (var i = 0; i < result.Length; i++)
        {
            var freq = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            var wavelen = 2 * Math.PI / freq;
            if (wavelen < original / high)
            {
                result[i] = 1;
            }
            else if (wavelen > original / low)
            {
                result[i] = (float)factor;
            }
            else
            {
                var smooth = ((original / wavelen) - low) / (high - low);
                result[i] = (float)(1 / (((1 - smooth) / factor) + smooth));
            }
        }

        return result;
    }

    /// <summary>center ± spread, uniform, from a SplitMix64 stream.</summary>
    private static void Fill(float[] values, ulong state, float center, float spread)
    {
        for (var i = 0; i < values.Length; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            var unit = (z >> 40) * (1.0f / (1 << 24)); // [0, 1)
            values[i] = center + (((unit * 2) - 1) * spread);
        }
    }

    /// <summary>FNV-1a of the tensor name and row, mixed with the seed (string.GetHashCode differs per process).</summary>
    private static ulong Hash(ulong seed, string name, int row)
    {
        var h = 14695981039346656037UL ^ seed;
        foreach (var c in name)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        return (h ^ (ulong)row) * 1099511628211UL;
    }

    /// <summary>A SentencePiece vocabulary: unknown/BOS/EOS control tokens, the 256 byte-fallback tokens, more control tokens, filler pieces.</summary>
    public static void AddTokenizer(GgufWriter w, int vocab, string[] controls)
    {
        var tokens = new string[vocab];
        var scores = new float[vocab];
        var types = new int[vocab];
        (tokens[0], types[0]) = ("<unk>", 2);
        (tokens[1], types[1]) = ("<s>", 3);
        (tokens[2], types[2]) = ("</s>", 3);
        for (var b = 0; b < 256; b++)
        {
            tokens[3 + b] = $"<0x{b:X2}>";
            types[3 + b] = 6;
        }

        for (var i = 0; i < controls.Length; i++)
        {
            (tokens[259 + i], types[259 + i]) = (controls[i], 3);
        }

        for (var i = 259 + controls.Length; i < vocab; i++)
        {
            tokens[i] = "\u2581t" + i.ToString(CultureInfo.InvariantCulture);
            scores[i] = -i;
            types[i] = 1;
        }

        w.Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", tokens)
            .Add("tokenizer.ggml.scores", scores)
            .Add("tokenizer.ggml.token_type", types)
            .Add("tokenizer.ggml.unknown_token_id", 0u)
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", 2u)
            .Add("tokenizer.ggml.add_bos_token", true)
            .Add("tokenizer.ggml.add_eos_token", false);
    }
}
