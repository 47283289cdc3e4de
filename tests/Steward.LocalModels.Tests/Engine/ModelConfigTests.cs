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

        Assert.Contains("rope scaling type 'yarn'", ex.Message, StringComparison.Ordinal);
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
        var w = new GgufWriter()
            .Add("general.architecture", arch)
            .Add($"{arch}.context_length", 128u)
            .Add($"{arch}.embedding_length", 32u)
            .Add($"{arch}.block_count", 1u)
            .Add($"{arch}.feed_forward_length", 64u)
            .Add($"{arch}.attention.head_count", 4u)
            .Add($"{arch}.attention.head_count_kv", 2u)
            .AddTensor("token_embd.weight", GgmlType.F32, [32, 10], new float[320]);
        extra(w);
        w.Write(path);
        return GgufFile.Open(path);
    }
}
