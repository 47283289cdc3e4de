using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>Shape of a llama-architecture model to generate with random weights.</summary>
internal sealed record ModelShape(string Name, int Layers, int Embedding, int Heads, int KvHeads, int FeedForward, int Vocab, int Context)
{
    public static ModelShape SmolLM2_135M { get; } = new("smollm2-135m-shaped", 30, 576, 9, 3, 1536, 49152, 8192);
}

/// <summary>
/// Writes a random-weight llama model with a valid SentencePiece ("llama") tokenizer section, so llama.cpp
/// loads the same file: unknown/BOS/EOS control tokens, the 256 byte-fallback tokens, then filler pieces.
/// Speed does not depend on weight values.
/// </summary>
internal static class BenchModelWriter
{
    public static string EnsureModel(string folder, ModelShape shape, GgmlType type)
    {
        var path = Path.Combine(folder, $"{shape.Name}-{type.ToString().ToLowerInvariant()}.gguf");
        if (File.Exists(path))
        {
            return path;
        }

        var rng = new Random(1234);
        var w = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("general.name", shape.Name)
            .Add("llama.context_length", (uint)shape.Context)
            .Add("llama.embedding_length", (uint)shape.Embedding)
            .Add("llama.block_count", (uint)shape.Layers)
            .Add("llama.feed_forward_length", (uint)shape.FeedForward)
            .Add("llama.attention.head_count", (uint)shape.Heads)
            .Add("llama.attention.head_count_kv", (uint)shape.KvHeads)
            .Add("llama.rope.freq_base", 100000f)
            .Add("llama.rope.dimension_count", (uint)(shape.Embedding / shape.Heads))
            .Add("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .Add("llama.vocab_size", (uint)shape.Vocab)
            .Add("general.file_type", type == GgmlType.F16 ? 1u : 7u);
        AddTokenizer(w, shape.Vocab);

        var e = shape.Embedding;
        var kv = shape.Embedding / shape.Heads * shape.KvHeads;
        w.AddTensor("token_embd.weight", type, [(ulong)e, (ulong)shape.Vocab], Random(rng, e * shape.Vocab, 0.05f));
        w.AddTensor("output_norm.weight", GgmlType.F32, [(ulong)e], Ones(e));
        for (var l = 0; l < shape.Layers; l++)
        {
            var p = $"blk.{l}.";
            w.AddTensor(p + "attn_norm.weight", GgmlType.F32, [(ulong)e], Ones(e));
            w.AddTensor(p + "attn_q.weight", type, [(ulong)e, (ulong)e], Random(rng, e * e, 0.05f));
            w.AddTensor(p + "attn_k.weight", type, [(ulong)e, (ulong)kv], Random(rng, e * kv, 0.05f));
            w.AddTensor(p + "attn_v.weight", type, [(ulong)e, (ulong)kv], Random(rng, e * kv, 0.05f));
            w.AddTensor(p + "attn_output.weight", type, [(ulong)e, (ulong)e], Random(rng, e * e, 0.05f));
            w.AddTensor(p + "ffn_norm.weight", GgmlType.F32, [(ulong)e], Ones(e));
            w.AddTensor(p + "ffn_gate.weight", type, [(ulong)e, (ulong)shape.FeedForward], Random(rng, e * shape.FeedForward, 0.05f));
            w.AddTensor(p + "ffn_up.weight", type, [(ulong)e, (ulong)shape.FeedForward], Random(rng, e * shape.FeedForward, 0.05f));
            w.AddTensor(p + "ffn_down.weight", type, [(ulong)shape.FeedForward, (ulong)e], Random(rng, e * shape.FeedForward, 0.05f));
        }

        Directory.CreateDirectory(folder);
        var tmp = path + ".tmp";
        w.Write(tmp);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    public static void AddTokenizer(GgufWriter w, int vocab)
    {
        var tokens = new string[vocab];
        var scores = new float[vocab];
        var types = new int[vocab];
        tokens[0] = "<unk>";
        types[0] = 2;
        tokens[1] = "<s>";
        types[1] = 3;
        tokens[2] = "</s>";
        types[2] = 3;
        for (var b = 0; b < 256; b++)
        {
            tokens[3 + b] = $"<0x{b:X2}>";
            types[3 + b] = 6;
        }

        for (var i = 259; i < vocab; i++)
        {
            tokens[i] = "\u2581t" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
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

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    private static float[] Random(Random rng, int n, float scale)
    {
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1) * scale;
        }

        return x;
    }
}
