using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Tests.TestSupport;

/// <summary>
/// Writes tiny random-weight llama / qwen2 models with <see cref="GgufWriter"/>: a SentencePiece-style vocabulary
/// (unknown, BOS, EOS, 256 byte tokens, the ChatML markers as control tokens, then filler pieces) and a ChatML
/// chat template, so the whole path from text to text runs without downloaded files.
/// </summary>
internal static class TinyModels
{
    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    public const int ImStart = 259;
    public const int ImEnd = 260;

    internal sealed record Shape(
        int Embedding = 256, int FeedForward = 512, int Heads = 4, int KvHeads = 2, int Layers = 2, int Vocab = 400, int Context = 256, bool? TiedOutput = null,
        bool ByteLevelBpe = false);

    /// <summary>In the byte-level BPE vocabulary: the ChatML markers follow the 256 byte tokens.</summary>
    public const int BpeImStart = 256;
    public const int BpeImEnd = 257;

    public static string Write(string folder, string architecture, GgmlType type, Shape? shape = null, int seed = 1)
    {
        shape ??= new Shape();
        var tied = shape.TiedOutput ?? architecture == "qwen2";
        var path = Path.Combine(folder, $"tiny-{architecture}-{type.ToString().ToLowerInvariant()}-{(tied ? "tied" : "untied")}{(shape.ByteLevelBpe ? "-bpe" : "")}-{seed}.gguf");
        var rng = new Random(seed);
        var a = architecture;
        var headDim = shape.Embedding / shape.Heads;
        var kv = headDim * shape.KvHeads;
        var w = new GgufWriter()
            .Add("general.architecture", a)
            .Add("general.name", "tiny")
            .Add($"{a}.context_length", (uint)shape.Context)
            .Add($"{a}.embedding_length", (uint)shape.Embedding)
            .Add($"{a}.block_count", (uint)shape.Layers)
            .Add($"{a}.feed_forward_length", (uint)shape.FeedForward)
            .Add($"{a}.attention.head_count", (uint)shape.Heads)
            .Add($"{a}.attention.head_count_kv", (uint)shape.KvHeads)
            .Add($"{a}.rope.freq_base", 10000f)
            .Add($"{a}.attention.layer_norm_rms_epsilon", 1e-6f)
            .Add("tokenizer.chat_template", ChatMlTemplate);
        if (shape.ByteLevelBpe)
        {
            AddByteLevelBpeTokenizer(w, shape.Vocab);
        }
        else
        {
            AddTokenizer(w, shape.Vocab);
        }

        var e = shape.Embedding;
        // Small models drift to near-uniform logits with tiny weights; embeddings of unit scale keep them lively.
        w.AddTensor("token_embd.weight", type, [(ulong)e, (ulong)shape.Vocab], Random(rng, e * shape.Vocab, 1f));
        w.AddTensor("output_norm.weight", GgmlType.F32, [(ulong)e], Random(rng, e, 0.2f, 1f));
        for (var l = 0; l < shape.Layers; l++)
        {
            var p = $"blk.{l}.";
            w.AddTensor(p + "attn_norm.weight", GgmlType.F32, [(ulong)e], Random(rng, e, 0.2f, 1f));
            w.AddTensor(p + "attn_q.weight", type, [(ulong)e, (ulong)e], Random(rng, e * e, 0.1f));
            w.AddTensor(p + "attn_k.weight", type, [(ulong)e, (ulong)kv], Random(rng, e * kv, 0.1f));
            w.AddTensor(p + "attn_v.weight", type, [(ulong)e, (ulong)kv], Random(rng, e * kv, 0.1f));
            if (a == "qwen2")
            {
                w.AddTensor(p + "attn_q.bias", GgmlType.F32, [(ulong)e], Random(rng, e, 0.1f));
                w.AddTensor(p + "attn_k.bias", GgmlType.F32, [(ulong)kv], Random(rng, kv, 0.1f));
                w.AddTensor(p + "attn_v.bias", GgmlType.F32, [(ulong)kv], Random(rng, kv, 0.1f));
            }

            w.AddTensor(p + "attn_output.weight", type, [(ulong)e, (ulong)e], Random(rng, e * e, 0.1f));
            w.AddTensor(p + "ffn_norm.weight", GgmlType.F32, [(ulong)e], Random(rng, e, 0.2f, 1f));
            w.AddTensor(p + "ffn_gate.weight", type, [(ulong)e, (ulong)shape.FeedForward], Random(rng, e * shape.FeedForward, 0.1f));
            w.AddTensor(p + "ffn_up.weight", type, [(ulong)e, (ulong)shape.FeedForward], Random(rng, e * shape.FeedForward, 0.1f));
            w.AddTensor(p + "ffn_down.weight", type, [(ulong)shape.FeedForward, (ulong)e], Random(rng, e * shape.FeedForward, 0.1f));
        }

        // By default untied output for llama, tied (no output.weight) for qwen2: both code paths get exercised.
        if (!(shape.TiedOutput ?? a == "qwen2"))
        {
            w.AddTensor("output.weight", type, [(ulong)e, (ulong)shape.Vocab], Random(rng, e * shape.Vocab, 0.1f));
        }

        w.Write(path);
        return path;
    }

    private static void AddTokenizer(GgufWriter w, int vocab)
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

        (tokens[ImStart], types[ImStart]) = ("<|im_start|>", 3);
        (tokens[ImEnd], types[ImEnd]) = ("<|im_end|>", 3);
        string[] pieces = ["\u2581", "e", "t", "a", "o", "n", "\u2581the", "\u2581a", "er", "in", "\u2581t", "he", "user", "assistant", "system"];
        for (var i = 261; i < vocab; i++)
        {
            var k = i - 261;
            tokens[i] = k < pieces.Length ? pieces[k] : "\u2581w" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            scores[i] = -k;
            types[i] = 1;
        }

        w.Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", tokens)
            .Add("tokenizer.ggml.scores", scores)
            .Add("tokenizer.ggml.token_type", types)
            .Add("tokenizer.ggml.unknown_token_id", 0u)
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", (uint)ImEnd)
            .Add("tokenizer.ggml.add_bos_token", false);
    }

    /// <summary>
    /// A GPT-2 style vocabulary (<c>tokenizer.ggml.model = gpt2</c>, Qwen2 pre-tokenizer): the 256 byte symbols, the
    /// ChatML markers as control tokens, then tokens built by merges, so encoding exercises the merge ranks.
    /// </summary>
    private static void AddByteLevelBpeTokenizer(GgufWriter w, int vocab)
    {
        var tokens = new List<string>(vocab);
        var types = new List<int>(vocab);
        for (var b = 0; b < 256; b++)
        {
            tokens.Add(Steward.LocalModels.Tokenization.ByteLevelEncoding.ToChar((byte)b).ToString());
            types.Add(1);
        }

        tokens.Add("<|im_start|>");
        types.Add(3);
        tokens.Add("<|im_end|>");
        types.Add(3);
        tokens.Add("<|endoftext|>");
        types.Add(3);

        var space = Steward.LocalModels.Tokenization.ByteLevelEncoding.ToChar((byte)' ').ToString();
        var newline = Steward.LocalModels.Tokenization.ByteLevelEncoding.ToChar((byte)'\n').ToString();
        (string Left, string Right)[] merges =
        [
            ("h", "i"), (space, "t"), ("e", "r"), ("t", "h"), ("th", "e"), (space, "the"), ("u", "s"), ("us", "er"), ("a", "s"), ("s", "i"),
            ("as", "si"), ("st", "an"), ("s", "t"), ("a", "n"), ("assi", "stan"), ("assistan", "t"), ("s", "y"), ("sy", "st"), ("e", "m"),
            ("syst", "em"), (newline, newline), ("b", "e"), (space, "be"), ("i", "n"), (space, "in"),
        ];
        foreach (var (left, right) in merges)
        {
            tokens.Add(left + right);
            types.Add(1);
        }

        for (var i = tokens.Count; i < vocab; i++)
        {
            tokens.Add("<|filler_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "|>");
            types.Add(4);
        }

        w.Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", "qwen2")
            .Add("tokenizer.ggml.tokens", tokens.ToArray())
            .Add("tokenizer.ggml.token_type", types.ToArray())
            .Add("tokenizer.ggml.merges", merges.Select(m => m.Left + " " + m.Right).ToArray())
            .Add("tokenizer.ggml.eos_token_id", (uint)BpeImEnd)
            .Add("tokenizer.ggml.padding_token_id", 258u)
            .Add("tokenizer.ggml.add_bos_token", false);
    }

    private static float[] Random(Random rng, int n, float scale, float offset = 0f)
    {
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = offset + ((float)((rng.NextDouble() * 2) - 1) * scale);
        }

        return x;
    }
}
