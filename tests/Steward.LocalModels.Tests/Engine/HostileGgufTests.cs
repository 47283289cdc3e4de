using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Models;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>
/// Files with hostile metadata (issue #13 item 4): each is refused with one line that names the file and the field,
/// as a <see cref="GgufFormatException"/>, wherever it is opened (loading, <c>models info</c>); a cache larger than
/// memory is capped, not allocated.
/// </summary>
public sealed class HostileGgufTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hostile-gguf").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> HostileMetadata() => new()
    {
        { "block_count", "'llama.block_count'" },
        { "head_count_zero", "'llama.attention.head_count'" },
        { "head_count_kv_zero", "'llama.attention.head_count_kv'" },
        { "head_count_not_multiple", "'llama.attention.head_count_kv'" },
        { "embedding_mismatch", "'llama.embedding_length'" },
        { "feed_forward_huge", "'llama.feed_forward_length'" },
        { "key_length_huge", "'llama.attention.key_length'" },
        { "context_negative", "'llama.context_length'" },
        { "epsilon_nan", "'llama.attention.layer_norm_rms_epsilon'" },
        { "freq_base_zero", "'llama.rope.freq_base'" },
    };

    [Theory]
    [MemberData(nameof(HostileMetadata))]
    public void Load_HostileMetadata_OneLineErrorNamingFileAndField(string variant, string field)
    {
        var path = Write(variant, w => _ = variant switch
        {
            "block_count" => w.Add("llama.block_count", uint.MaxValue),
            "head_count_zero" => w.Add("llama.attention.head_count", 0u),
            "head_count_kv_zero" => w.Add("llama.attention.head_count_kv", 0u),
            "head_count_not_multiple" => w.Add("llama.attention.head_count_kv", 3u),
            "embedding_mismatch" => w.Add("llama.embedding_length", 64u),
            "feed_forward_huge" => w.Add("llama.feed_forward_length", uint.MaxValue),
            "key_length_huge" => w.Add("llama.attention.key_length", 1u << 30),
            "context_negative" => w.Add("llama.context_length", -5),
            "epsilon_nan" => w.Add("llama.attention.layer_norm_rms_epsilon", float.NaN),
            _ => w.Add("llama.rope.freq_base", 0f),
        });

        var load = Assert.Throws<GgufFormatException>(() => LocalChatClient.Load(path));
        var info = Assert.Throws<GgufFormatException>(() => new ModelStore(_dir).GetInfo(path));

        foreach (var ex in new[] { load, info })
        {
            Assert.Contains(field, ex.Message, StringComparison.Ordinal);
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);
        }
    }

    [Fact]
    public void Open_TensorDimensionsOverflow_OneLineErrorNamingTensor()
    {
        var path = Write("dims", w => w.AddRawTensor("blk.0.huge.weight", GgmlType.F32, [1UL << 32, 1UL << 32, 1UL << 32], new byte[32]));

        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
        var info = Assert.Throws<GgufFormatException>(() => new ModelStore(_dir).GetInfo(path));

        Assert.Contains("'blk.0.huge.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("4294967296, 4294967296, 4294967296", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Equal(ex.Message, info.Message);
    }

    [Fact]
    public void Load_TensorLargerThanFile_NamesTensor()
    {
        var path = Write("big", w => w.AddRawTensor("blk.0.big.weight", GgmlType.F32, [1UL << 20, 1UL << 20], new byte[32]));

        var ex = Assert.Throws<GgufFormatException>(() => LocalChatClient.Load(path));

        Assert.Contains("'blk.0.big.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A small file whose KV cache is wide (a narrow embedding, a 32,768-wide key/value projection) and whose context
    /// is 2^31: the context is capped to the memory budget, the reason is given, and nothing near the declared size is
    /// allocated.
    /// </summary>
    [Fact]
    public void Load_KvCacheLargerThanMemory_CapsContextAndSaysSo()
    {
        var path = WideCacheModel(context: int.MaxValue);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 1, ContextLength = null, MemoryBudgetBytes = 64L << 20 });

        var perPosition = 2L * 2 * 32768 * 2; // K and V, 2 layers, 32,768 wide, fp16
        Assert.Equal((int)((64L << 20) / perPosition), model.ContextLength);
        Assert.Contains("context capped at 256 tokens (of 2,147,483,647)", model.ContextLimitReason, StringComparison.Ordinal);
        var logits = model.Forward([1, 2, 3], 0, TestContext.Current.CancellationToken);
        Assert.Equal(16, logits.Length);
    }

    [Fact]
    public void Load_KvCacheBeyondAnyBudget_OneLineError()
    {
        var path = WideCacheModel(context: 4096);
        using var file = GgufFile.Open(path);

        var ex = Assert.Throws<GgufFormatException>(() => new TransformerModel(file, new EngineOptions { Threads = 1, MemoryBudgetBytes = 1 << 20 }));

        Assert.Contains("KV cache needs 262,144 bytes per position", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void LocalChatClient_DefaultBudget_DeclaredContextOfBillionsIsCappedNotAllocated()
    {
        var path = WideCacheModel(context: int.MaxValue);

        using var client = LocalChatClient.Load(path, new LocalModelOptions { ContextLength = null, Threads = 1 });

        Assert.True(client.ContextLength < int.MaxValue);
        Assert.NotNull(client.ContextLimitReason);
    }

    private string WideCacheModel(int context)
    {
        const int embd = 32, heads = 64, headDim = 512, ff = 32, vocab = 16;
        var path = Path.Combine(_dir, $"wide-{context}.gguf");
        var w = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("llama.context_length", (uint)context)
            .Add("llama.embedding_length", (uint)embd)
            .Add("llama.block_count", 2u)
            .Add("llama.feed_forward_length", (uint)ff)
            .Add("llama.attention.head_count", (uint)heads)
            .Add("llama.attention.head_count_kv", (uint)heads)
            .Add("llama.attention.key_length", (uint)headDim)
            .Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", .. Enumerable.Range(3, vocab - 3).Select(i => "\u2581w" + i)])
            .Add("tokenizer.ggml.scores", new float[vocab])
            .Add("tokenizer.ggml.token_type", [2, 3, 3, .. Enumerable.Repeat(1, vocab - 3)])
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", 2u)
            .AddTensor("token_embd.weight", GgmlType.F16, [embd, vocab], new float[embd * vocab])
            .AddTensor("output_norm.weight", GgmlType.F32, [embd], new float[embd]);
        for (var l = 0; l < 2; l++)
        {
            var p = $"blk.{l}.";
            w.AddTensor(p + "attn_norm.weight", GgmlType.F32, [embd], new float[embd])
                .AddTensor(p + "attn_q.weight", GgmlType.Q8_0, [embd, heads * headDim], new float[embd * heads * headDim])
                .AddTensor(p + "attn_k.weight", GgmlType.Q8_0, [embd, heads * headDim], new float[embd * heads * headDim])
                .AddTensor(p + "attn_v.weight", GgmlType.Q8_0, [embd, heads * headDim], new float[embd * heads * headDim])
                .AddTensor(p + "attn_output.weight", GgmlType.Q8_0, [heads * headDim, embd], new float[embd * heads * headDim])
                .AddTensor(p + "ffn_norm.weight", GgmlType.F32, [embd], new float[embd])
                .AddTensor(p + "ffn_gate.weight", GgmlType.Q8_0, [embd, ff], new float[embd * ff])
                .AddTensor(p + "ffn_up.weight", GgmlType.Q8_0, [embd, ff], new float[embd * ff])
                .AddTensor(p + "ffn_down.weight", GgmlType.Q8_0, [ff, embd], new float[embd * ff]);
        }

        w.Write(path);
        return path;
    }

    private string Write(string name, Action<GgufWriter> change)
    {
        var w = ModelConfigTests.MinimalModel("llama");
        change(w);
        var path = Path.Combine(_dir, name + ".gguf");
        w.Write(path);
        return path;
    }
}
