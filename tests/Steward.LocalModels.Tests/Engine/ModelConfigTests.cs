using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

public sealed class ModelConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("model-config").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FromGguf_Llama_ReadsHyperparametersAndLinearRopeScaling()
    {
        using var file = Write("llama", w => w
            .Add("llama.rope.scaling.type", "linear")
            .Add("llama.rope.scaling.factor", 4f)
            .Add("llama.rope.freq_base", 500000f)
            .Add("llama.rope.dimension_count", 8u));

        var config = ModelConfig.FromGguf(file);

        Assert.Equal("llama", config.Architecture);
        Assert.Equal(32, config.EmbeddingLength);
        Assert.Equal(4, config.HeadCount);
        Assert.Equal(2, config.KvHeadCount);
        Assert.Equal(8, config.HeadDim);
        Assert.Equal(0.25f, config.RopeFreqScale);
        Assert.Equal(500000f, config.RopeFreqBase);
        Assert.Equal(RopeMode.Normal, config.RopeMode);
        Assert.Equal(10, config.VocabSize);
    }

    [Fact]
    public void FromGguf_Qwen2_UsesNeoXRopeAndDefaults()
    {
        using var file = Write("qwen2", _ => { });

        var config = ModelConfig.FromGguf(file);

        Assert.Equal(RopeMode.NeoX, config.RopeMode);
        Assert.Equal(10000f, config.RopeFreqBase);
        Assert.Equal(1f, config.RopeFreqScale);
        Assert.Equal(8, config.RopeDimensions);
        Assert.Equal(1e-5f, config.RmsEpsilon);
    }

    [Fact]
    public void FromGguf_YarnScaling_IsRejectedByName()
    {
        using var file = Write("llama", w => w.Add("llama.rope.scaling.type", "yarn").Add("llama.rope.scaling.factor", 4f));

        var ex = Assert.Throws<GgufFormatException>(() => ModelConfig.FromGguf(file));

        Assert.Contains("'llama.rope.scaling.type' is 'yarn'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromGguf_MissingKey_NamesIt()
    {
        var path = Path.Combine(_dir, "missing.gguf");
        new GgufWriter().Add("general.architecture", "llama").AddTensor("token_embd.weight", GgmlType.F32, [32, 10], new float[320]).Write(path);
        using var file = GgufFile.Open(path);

        var ex = Assert.Throws<GgufFormatException>(() => ModelConfig.FromGguf(file));

        Assert.Contains("'llama.embedding_length' is missing", ex.Message, StringComparison.Ordinal);
    }

    private GgufFile Write(string arch, Action<GgufWriter> extra)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".gguf");
        var w = MinimalModel(arch);
        extra(w);
        w.Write(path);
        return GgufFile.Open(path);
    }

    /// <summary>A complete one-layer model (embedding 32, 4 heads of 8, 2 KV heads, FFN 64, vocabulary 10), all F32 zeros.</summary>
    internal static GgufWriter MinimalModel(string arch)
    {
        var w = new GgufWriter()
            .Add("general.architecture", arch)
            .Add($"{arch}.context_length", 128u)
            .Add($"{arch}.embedding_length", 32u)
            .Add($"{arch}.block_count", 1u)
            .Add($"{arch}.feed_forward_length", 64u)
            .Add($"{arch}.attention.head_count", 4u)
            .Add($"{arch}.attention.head_count_kv", 2u)
            .AddTensor("token_embd.weight", GgmlType.F32, [32, 10], new float[320])
            .AddTensor("output_norm.weight", GgmlType.F32, [32], new float[32])
            .AddTensor("blk.0.attn_norm.weight", GgmlType.F32, [32], new float[32])
            .AddTensor("blk.0.attn_q.weight", GgmlType.F32, [32, 32], new float[32 * 32])
            .AddTensor("blk.0.attn_k.weight", GgmlType.F32, [32, 16], new float[32 * 16])
            .AddTensor("blk.0.attn_v.weight", GgmlType.F32, [32, 16], new float[32 * 16])
            .AddTensor("blk.0.attn_output.weight", GgmlType.F32, [32, 32], new float[32 * 32])
            .AddTensor("blk.0.ffn_norm.weight", GgmlType.F32, [32], new float[32])
            .AddTensor("blk.0.ffn_gate.weight", GgmlType.F32, [32, 64], new float[32 * 64])
            .AddTensor("blk.0.ffn_up.weight", GgmlType.F32, [32, 64], new float[32 * 64])
            .AddTensor("blk.0.ffn_down.weight", GgmlType.F32, [64, 32], new float[64 * 32]);
        if (arch == "qwen3")
        {
            w.AddTensor("blk.0.attn_q_norm.weight", GgmlType.F32, [8], new float[8]).AddTensor("blk.0.attn_k_norm.weight", GgmlType.F32, [8], new float[8]);
        }

        return w;
    }
}
