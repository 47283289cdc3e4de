using System.Text.Json;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Steward.LocalModels.Tests.TestSupport;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>Greedy generations must reproduce llama.cpp's token ids from reference_outputs.jsonl.</summary>
public sealed class ReferenceOutputTests
{
    [Theory]
    [InlineData("stories260K.gguf", 32, true)]
    [InlineData("stories260K-q8_0.gguf", 32, true)]
    [InlineData("stories260K-q4_0.gguf", 24, true)]
    [InlineData("stories260K.gguf", 32, false)]
    [InlineData("stories260K-q8_0.gguf", 32, false)]
    [InlineData("stories260K-q4_0.gguf", 24, false)]
    [InlineData("llama-2-tiny-random.gguf", 16, true)]
    public void Greedy_MatchesLlamaCpp(string model, int mustMatch, bool simd)
    {
        var path = TestModels.RequirePath(model);
        var reference = Load(model);
        using var file = GgufFile.Open(path);
        using var transformer = new TransformerModel(file, new EngineOptions { Threads = 2, UseSimd = simd });

        var generated = GreedyDecode(transformer, reference.Prompt, reference.Expected.Length);

        Assert.Equal(reference.Expected[..mustMatch], generated[..mustMatch]);
    }

    [Fact]
    public void Greedy_BatchedPromptAndOneByOne_Agree()
    {
        var path = TestModels.RequirePath("stories260K.gguf");
        var reference = Load("stories260K.gguf");
        using var file = GgufFile.Open(path);
        using var batched = new TransformerModel(file, new EngineOptions { Threads = 2 });
        using var single = new TransformerModel(file, new EngineOptions { Threads = 1, BatchSize = 1 });

        var a = batched.Forward(reference.Prompt, 0, TestContext.Current.CancellationToken).ToArray();
        var b = single.Forward(reference.Prompt, 0, TestContext.Current.CancellationToken).ToArray();

        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 1e-4f);
        }
    }

    internal static int[] GreedyDecode(TransformerModel model, int[] prompt, int count)
    {
        var result = new List<int>();
        var logits = model.Forward(prompt, 0);
        var pos = prompt.Length;
        for (var i = 0; i < count; i++)
        {
            var best = 0;
            for (var t = 1; t < logits.Length; t++)
            {
                if (logits[t] > logits[best])
                {
                    best = t;
                }
            }

            result.Add(best);
            logits = model.Forward([best], pos++);
        }

        return [.. result];
    }

    internal static (int[] Prompt, int[] Expected) Load(string model)
    {
        var file = Path.Combine(TestModels.Directory!, "reference_outputs.jsonl");
        foreach (var line in File.ReadLines(file))
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.GetProperty("model").GetString() == model)
            {
                return (
                    [.. doc.RootElement.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32())],
                    [.. doc.RootElement.GetProperty("greedy_tokens").EnumerateArray().Select(e => e.GetInt32())]);
            }
        }

        throw new InvalidOperationException($"No reference output for {model}.");
    }
}
