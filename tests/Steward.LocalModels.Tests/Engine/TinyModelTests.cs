using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Generation;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

public sealed class TinyModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tiny-models").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, uint> Cases()
    {
        var data = new TheoryData<string, uint>();
        foreach (var arch in new[] { "llama", "qwen2" })
        {
            foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
            {
                data.Add(arch, (uint)t);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_SimdAndPortableKernels_AreBitIdentical(string architecture, uint typeNumber)
    {
        var path = TinyModels.Write(_dir, architecture, (GgmlType)typeNumber);
        using var file = GgufFile.Open(path);
        using var simd = new TransformerModel(file, new EngineOptions { Threads = 2, UseSimd = true, BatchSize = 4 });
        using var scalar = new TransformerModel(file, new EngineOptions { Threads = 1, UseSimd = false, BatchSize = 4 });
        int[] prompt = [1, 300, 301, 302, 305, 310, 320, 330, 340];
        var ct = TestContext.Current.CancellationToken;

        // A batched prompt (3 batches of 4 then 1), then single tokens through the KV cache: the portable kernels
        // build the same integer lanes and sum in the same order, so the bits agree, whatever the thread count.
        var a = simd.Forward(prompt, 0, ct).ToArray();
        var b = scalar.Forward(prompt, 0, ct).ToArray();
        Assert.Equal(a, b);
        for (var i = 0; i < 4; i++)
        {
            var next = Sampler.ArgMax(a);
            a = simd.Forward([next], prompt.Length + i, ct).ToArray();
            b = scalar.Forward([next], prompt.Length + i, ct).ToArray();
            Assert.Equal(a, b);
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void Generate_TinyModel_RunsEndToEndAndStopsAtMaxTokens(string architecture)
    {
        var path = TinyModels.Write(_dir, architecture, GgmlType.Q8_0);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 2 });
        var generator = new TokenGenerator(model);
        var result = new GenerationResult();

        var ids = generator.Generate([1, 300, 301], new GenerationOptions { MaxTokens = 10, Sampling = new SamplingOptions { Seed = 7 } }, result, TestContext.Current.CancellationToken).ToList();

        Assert.Equal(10, ids.Count);
        Assert.Equal(10, result.GeneratedTokens);
        Assert.Equal(3, result.PromptTokens);
        Assert.Equal(GenerationFinish.MaxTokens, result.Finish);
        Assert.All(ids, id => Assert.InRange(id, 0, 399));
    }

    [Fact]
    public void Generate_SameSeed_IsReproducibleAndReusesCachedPrefix()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.Q4_0);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 2 });
        var generator = new TokenGenerator(model);
        var options = new GenerationOptions { MaxTokens = 12, Sampling = new SamplingOptions { Temperature = 1.2f, Seed = 99, TopK = 0, TopP = 1f, MinP = 0f } };
        var ct = TestContext.Current.CancellationToken;

        var first = generator.Generate([1, 300, 301, 302], options, new GenerationResult(), ct).ToList();
        var second = new GenerationResult();
        var again = generator.Generate([1, 300, 301, 302], options, second, ct).ToList();

        Assert.Equal(first, again);
        Assert.Equal(3, second.ReusedPromptTokens);
    }

    [Fact]
    public void Generate_PromptPlusMaxTokensBeyondContext_ThrowsContextWindowExceeded()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.F16);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 1, ContextLength = 32 });
        var generator = new TokenGenerator(model);

        var ex = Assert.Throws<ContextWindowExceededException>(() =>
            generator.Generate(Enumerable.Repeat(300, 20).ToArray(), new GenerationOptions { MaxTokens = 20 }, new GenerationResult(), TestContext.Current.CancellationToken));

        Assert.Equal(20, ex.PromptTokens);
        Assert.Equal(32, ex.ContextSize);
    }

    [Fact]
    public void Generate_WithoutMaxTokens_StopsWhenContextIsFull()
    {
        var path = TinyModels.Write(_dir, "qwen2", GgmlType.Q8_0);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 1, ContextLength = 24 });
        var generator = new TokenGenerator(model);
        var result = new GenerationResult();

        var ids = generator.Generate([1, 300, 301, 302], new GenerationOptions(), result, TestContext.Current.CancellationToken).ToList();

        Assert.Equal(20, ids.Count);
        Assert.Equal(GenerationFinish.ContextFull, result.Finish);
    }

    [Fact]
    public void Generate_Cancelled_StopsBetweenTokens()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.Q8_0);
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = 1 });
        var generator = new TokenGenerator(model);
        using var cts = new CancellationTokenSource();
        var seen = 0;

        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var unused in generator.Generate([1, 300], new GenerationOptions { MaxTokens = 50 }, new GenerationResult(), cts.Token))
            {
                if (++seen == 3)
                {
                    cts.Cancel();
                }
            }
        });

        Assert.Equal(3, seen);
    }

    [Fact]
    public void Open_UnknownArchitecture_NamesIt()
    {
        var path = Path.Combine(_dir, "mamba.gguf");
        new GgufWriter().Add("general.architecture", "mamba").AddTensor("token_embd.weight", GgmlType.F32, [4, 4], new float[16]).Write(path);
        using var file = GgufFile.Open(path);

        var ex = Assert.Throws<GgufFormatException>(() => new TransformerModel(file, new EngineOptions()));

        Assert.Contains("unknown architecture 'mamba'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnsupportedTensorType_NamesTensorAndType()
    {
        var path = TinyModels.Write(_dir, "llama", GgmlType.Q8_0, new TinyModels.Shape(Layers: 1));
        var bytes = File.ReadAllBytes(path);
        // Retag blk.0.attn_q.weight (Q8_0, 8) as Q2_K (10): a type GGUF knows but the engine does not implement.
        var name = System.Text.Encoding.UTF8.GetBytes("blk.0.attn_q.weight");
        var at = bytes.AsSpan().IndexOf(name) + name.Length + 4 + 16;
        Assert.Equal(8u, BitConverter.ToUInt32(bytes, at));
        BitConverter.TryWriteBytes(bytes.AsSpan(at), 10u);
        var retagged = Path.Combine(_dir, "q2k.gguf");
        File.WriteAllBytes(retagged, bytes);

        using var file = GgufFile.Open(retagged);
        var ex = Assert.Throws<GgufFormatException>(() => new TransformerModel(file, new EngineOptions { Threads = 1 }));

        Assert.Contains("'blk.0.attn_q.weight' has type Q2_K", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sampler_TopKOne_IsGreedy()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 5f, TopK = 1, Seed = 1 });
        float[] logits = [0.1f, 3f, 2.9f, -1f];

        Assert.Equal(1, sampler.Sample(logits, []));
    }

    [Fact]
    public void Sampler_TopK_SamplesOnlyTheKHighestOfALargeVocabulary()
    {
        var rng = new Random(11);
        var logits = Enumerable.Range(0, 50_000).Select(_ => (float)rng.NextDouble()).ToArray();
        var top = logits.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(3).Select(p => p.i).ToHashSet();
        var sampler = new Sampler(new SamplingOptions { Temperature = 50f, TopK = 3, TopP = 1f, MinP = 0f, Seed = 2 });

        var seen = Enumerable.Range(0, 300).Select(_ => sampler.Sample(logits.ToArray(), [])).ToHashSet();

        Assert.Equal(top, seen);
    }

    [Fact]
    public void Sampler_TopKAmongEqualLogits_KeepsTheLowestIds()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 1f, TopK = 2, TopP = 1f, MinP = 0f, Seed = 4 });
        var logits = new float[1000];

        var seen = Enumerable.Range(0, 200).Select(_ => sampler.Sample(logits.ToArray(), [])).ToHashSet();

        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public void Sampler_RepetitionPenalty_DemotesRecentTokens()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 0, RepetitionPenalty = 2f });
        float[] logits = [0.1f, 3f, 2f, -1f];

        Assert.Equal(2, sampler.Sample(logits, [1]));
    }

    [Fact]
    public void Sampler_MinP_RemovesUnlikelyTokens()
    {
        var counts = new int[3];
        var sampler = new Sampler(new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0.5f, Seed = 3 });
        for (var i = 0; i < 200; i++)
        {
            counts[sampler.Sample(new float[] { 5f, 4.9f, 0f }, [])]++;
        }

        Assert.Equal(0, counts[2]);
        Assert.True(counts[0] > 0 && counts[1] > 0);
    }
}
