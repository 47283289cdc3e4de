using System.Numerics.Tensors;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Bench;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>
/// Several calls generating at once over one loaded model: each in its own slot and KV cache region, their tokens
/// decoded in shared batches, each call's output exactly what it is alone; a queue beyond the slots; cancelling one
/// call leaves the others untouched.
/// </summary>
public sealed class ParallelGenerationTests : IDisposable
{
    private static readonly string[] Prompts = ["Once upon a time", "The little dog", "Tom and Sue went to", "One day, a big bird"];

    private readonly string _dir = Directory.CreateTempSubdirectory("parallel").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ChatOptions RawGreedy(int maxTokens) => new()
    {
        Temperature = 0,
        MaxOutputTokens = maxTokens,
        AdditionalProperties = new() { ["raw"] = true },
    };

    [Theory]
    [InlineData("F32")]
    [InlineData("Q8_0")]
    [InlineData("Q4_K_M")]
    public void Decode_RowsOfSeveralSlots_EqualEachSlotDecodedAlone(string weights)
    {
        var mix = Enum.Parse<WeightMix>(weights);
        // Three sequences at very different positions: a short one, one whose prompt ran tiled (64+ rows), and one past
        // 512 cache cells, whose lone row llama.cpp splits over the threads; qwen2 for the biases and the tied output.
        var ct = TestContext.Current.CancellationToken;
        var path = ShapedModelWriter.Ensure(_dir, ModelShape.Qwen25_05B.Reduced(1, 2048), mix);
        int[][] prompts = [[1, 5, 9], [.. Enumerable.Range(10, 70)], [.. Enumerable.Range(3, 600).Select(i => i % 2000)]];
        using var file = GgufFile.Open(path);
        using var shared = new TransformerModel(file, new EngineOptions { Threads = 2, ContextLength = 1024, Slots = 3 });
        using var alone = new TransformerModel(file, new EngineOptions { Threads = 2, ContextLength = 1024 });
        var next = new int[3];
        var positions = new int[3];
        for (var s = 0; s < 3; s++)
        {
            next[s] = TensorPrimitives.IndexOfMax(shared.Forward(s, prompts[s], 0, ct));
            positions[s] = prompts[s].Length;
        }

        var expected = new float[3][][];
        for (var s = 0; s < 3; s++)
        {
            // The same sequence alone: its prompt, then one token at a time.
            expected[s] = new float[4][];
            var token = TensorPrimitives.IndexOfMax(alone.Forward(prompts[s], 0, ct));
            for (var step = 0; step < 4; step++)
            {
                expected[s][step] = alone.Forward([token], prompts[s].Length + step, ct).ToArray();
                token = TensorPrimitives.IndexOfMax(expected[s][step]);
            }
        }

        for (var step = 0; step < 4; step++)
        {
            var logits = shared.Decode([0, 1, 2], next, positions).ToArray();
            for (var s = 0; s < 3; s++)
            {
                var row = logits.AsSpan(s * shared.VocabSize, shared.VocabSize).ToArray();
                Assert.Equal(expected[s][step], row);
                next[s] = TensorPrimitives.IndexOfMax(row);
                positions[s]++;
            }
        }
    }

    [Fact]
    public async Task GetResponseAsync_FourConcurrentCalls_ShareDecodeBatchesAndEachGetsItsOwnText()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2, ParallelRequests = 4 });
        var ct = TestContext.Current.CancellationToken;
        var alone = new List<string>();
        foreach (var prompt in Prompts)
        {
            alone.Add((await client.GetResponseAsync(prompt, RawGreedy(48), ct)).Text);
        }

        var before = client.DecodeTotals;
        Assert.Equal(before.Batches, before.Rows);

        var together = await Task.WhenAll(Prompts.Select(p => client.GetResponseAsync(p, RawGreedy(48), ct)));

        Assert.Equal(alone, together.Select(r => r.Text));
        Assert.All(together, r => Assert.Equal(48, r.Usage?.OutputTokenCount));
        var (batches, rows) = client.DecodeTotals;
        Assert.True(rows - before.Rows > 1.5 * (batches - before.Batches), $"{rows - before.Rows} tokens in {batches - before.Batches} decode steps: the calls were not decoded together");
    }

    [Fact]
    public async Task GetResponseAsync_MoreCallsThanSlots_WaitForASlotAndAllComplete()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2, ParallelRequests = 2 });
        var ct = TestContext.Current.CancellationToken;
        var expected = (await client.GetResponseAsync(Prompts[0], RawGreedy(24), ct)).Text;

        var responses = await Task.WhenAll(Enumerable.Range(0, 7).Select(_ => client.GetResponseAsync(Prompts[0], RawGreedy(24), ct)));

        Assert.All(responses, r => Assert.Equal(expected, r.Text));
    }

    [Fact]
    public async Task GetStreamingResponseAsync_OneOfThreeCancelled_OthersFinishUndisturbed()
    {
        using var client = LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { Threads = 2, ParallelRequests = 3 });
        var ct = TestContext.Current.CancellationToken;
        var expected = new List<string>();
        foreach (var prompt in Prompts[..3])
        {
            expected.Add((await client.GetResponseAsync(prompt, RawGreedy(64), ct)).Text);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var cancelled = Task.Run(
            async () =>
            {
                var received = 0;
                await foreach (var update in client.GetStreamingResponseAsync(Prompts[1], RawGreedy(64), cancel.Token))
                {
                    if (update.Text.Length > 0 && ++received == 3)
                    {
                        await cancel.CancelAsync();
                    }
                }
            },
            ct);
        var first = client.GetResponseAsync(Prompts[0], RawGreedy(64), ct);
        var third = client.GetResponseAsync(Prompts[2], RawGreedy(64), ct);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(expected[0], (await first).Text);
        Assert.Equal(expected[2], (await third).Text);
        Assert.Equal(expected[1], (await client.GetResponseAsync(Prompts[1], RawGreedy(64), ct)).Text);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(LocalModelOptions.MaxParallelRequests + 1)]
    public void Load_ParallelRequestsOutOfRange_ThrowsNamingTheOption(int parallel)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LocalChatClient.Load(TestModels.RequirePath("stories260K.gguf"), new LocalModelOptions { ParallelRequests = parallel }));

        Assert.Contains("ParallelRequests", ex.Message, StringComparison.Ordinal);
    }
}
