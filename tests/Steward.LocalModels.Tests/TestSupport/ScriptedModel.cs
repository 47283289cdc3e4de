using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tokenization;

namespace Steward.LocalModels.Tests.TestSupport;

/// <summary>
/// Writes a real GGUF model whose answers are scripted: a one-layer llama with zero attention and feed-forward
/// weights, so the next token depends only on the current one (a bigram table in the embedding and output
/// matrices). Each script is a list of text pieces, each its own vocabulary token; a script starts after the token
/// named by its trigger (null: after any token no script claims) and ends with <c>&lt;|im_end|&gt;</c>. Pieces written
/// <c>&lt;|...|&gt;</c> become control tokens. The engine runs it
/// like any model (tokenizer, chat template, sampling, decoding), so tests can drive the client with known output.
/// </summary>
internal static class ScriptedModel
{
    public const string EndOfTurn = "<|im_end|>";

    /// <param name="folder">Where to write the file.</param>
    /// <param name="chatTemplate">The model's tokenizer.chat_template.</param>
    /// <param name="scripts">(trigger token text or null for the default, pieces of the answer).</param>
    /// <param name="controlTokens">Extra control tokens (templates may write them, scripts may start after them).</param>
    public static string Write(string folder, string chatTemplate, IReadOnlyList<(string? Trigger, string[] Pieces)> scripts, params string[] controlTokens)
    {
        var tokens = new List<string>();
        var types = new List<int>();
        for (var b = 0; b < 256; b++)
        {
            tokens.Add(ByteLevelEncoding.ToChar((byte)b).ToString());
            types.Add(1);
        }

        foreach (var control in new[] { "<|im_start|>", EndOfTurn, "<|endoftext|>" }.Concat(controlTokens))
        {
            tokens.Add(control);
            types.Add(3);
        }

        var pieceIds = new List<int[]>();
        foreach (var (_, pieces) in scripts)
        {
            var ids = new int[pieces.Length];
            for (var i = 0; i < pieces.Length; i++)
            {
                if (tokens.Contains(pieces[i]))
                {
                    throw new ArgumentException($"Piece '{pieces[i]}' appears twice: the model could not tell what follows it.", nameof(scripts));
                }

                ids[i] = tokens.Count;
                tokens.Add(pieces[i]);
                // <|...|> pieces are control tokens (no text, like <|python_tag|>); the rest decode to their text as written.
                types.Add(pieces[i].StartsWith("<|", StringComparison.Ordinal) && pieces[i].EndsWith("|>", StringComparison.Ordinal) ? 3 : 4);
            }

            pieceIds.Add(ids);
        }

        var vocab = tokens.Count;
        var endId = tokens.IndexOf(EndOfTurn);

        // State 0 is "no script claims the current token"; every other state is one token with a known successor.
        var stateOf = new int[vocab];
        var successors = new List<int>();
        int NewState(int successor)
        {
            successors.Add(successor);
            return successors.Count - 1;
        }

        var defaultStart = endId;
        for (var s = 0; s < scripts.Count; s++)
        {
            var ids = pieceIds[s];
            if (scripts[s].Trigger is { } trigger)
            {
                stateOf[tokens.IndexOf(trigger)] = -1 - s; // placeholder, resolved below
            }
            else
            {
                defaultStart = ids[0];
            }
        }

        NewState(defaultStart);
        for (var id = 0; id < vocab; id++)
        {
            if (stateOf[id] < 0)
            {
                stateOf[id] = NewState(pieceIds[-1 - stateOf[id]][0]);
            }
        }

        foreach (var ids in pieceIds)
        {
            for (var i = 0; i < ids.Length; i++)
            {
                stateOf[ids[i]] = NewState(i + 1 < ids.Length ? ids[i + 1] : endId);
            }
        }

        var embedding = Math.Max(32, (successors.Count + 7) / 8 * 8);
        var tokenEmbedding = new float[embedding * vocab];
        var output = new float[embedding * vocab];
        for (var id = 0; id < vocab; id++)
        {
            tokenEmbedding[(id * embedding) + stateOf[id]] = 1f;
        }

        for (var state = 0; state < successors.Count; state++)
        {
            output[(successors[state] * embedding) + state] = 10f;
        }

        var path = Path.Combine(folder, $"scripted-{Guid.NewGuid():N}.gguf");
        const string a = "llama";
        var w = new GgufWriter()
            .Add("general.architecture", a)
            .Add("general.name", "scripted")
            .Add($"{a}.context_length", 2048u)
            .Add($"{a}.embedding_length", (uint)embedding)
            .Add($"{a}.block_count", 1u)
            .Add($"{a}.feed_forward_length", (uint)embedding)
            .Add($"{a}.attention.head_count", 4u)
            .Add($"{a}.attention.head_count_kv", 4u)
            .Add($"{a}.rope.freq_base", 10000f)
            .Add($"{a}.attention.layer_norm_rms_epsilon", 1e-6f)
            .Add("tokenizer.chat_template", chatTemplate)
            .Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", "qwen2")
            .Add("tokenizer.ggml.tokens", tokens.ToArray())
            .Add("tokenizer.ggml.token_type", types.ToArray())
            .Add("tokenizer.ggml.merges", Array.Empty<string>())
            .Add("tokenizer.ggml.eos_token_id", (uint)endId)
            .Add("tokenizer.ggml.add_bos_token", false);
        var e = (ulong)embedding;
        var zeros = new float[embedding * embedding];
        w.AddTensor("token_embd.weight", GgmlType.F32, [e, (ulong)vocab], tokenEmbedding);
        w.AddTensor("output_norm.weight", GgmlType.F32, [e], Ones(embedding));
        w.AddTensor("output.weight", GgmlType.F32, [e, (ulong)vocab], output);
        w.AddTensor("blk.0.attn_norm.weight", GgmlType.F32, [e], Ones(embedding));
        foreach (var name in new[] { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" })
        {
            w.AddTensor($"blk.0.{name}.weight", GgmlType.F32, [e, e], zeros);
        }

        w.AddTensor("blk.0.ffn_norm.weight", GgmlType.F32, [e], Ones(embedding));
        w.Write(path);
        return path;
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();
}
