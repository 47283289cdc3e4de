using System.Text.Json;
using Steward.LocalModels.Bench;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

/// <summary>
/// The engine against llama.cpp on random-weight models of the real shapes of the supported architectures (SmolLM2
/// and Llama 3.2 as llama, the latter with its rope_freqs; Qwen2.5 with Q/K/V biases; Qwen3 with Q/K norms; Phi-3 with
/// fused projections and an untied output; all others tied): one layer each, a 2,048-token vocabulary. The test writes
/// each file with the benchmark's deterministic writer and compares with LlamaCppReferences.json, which
/// <c>bench/Steward.LocalModels.Bench -- record-fixtures</c> recorded from llama.cpp (node-llama-cpp) on the same files.
/// F32, F16, Q8_0 (including the tied embedding as a Q8_0 output projection) and Q4_K_M must give llama.cpp's greedy
/// ids all the way and its first-step logits; one case runs a 100-token prompt (tiled attention) past 256 cache cells
/// (the split-KV path).
/// </summary>
public sealed class RealShapeReferenceTests : IClassFixture<RealShapeReferenceTests.Folder>
{
    private readonly Folder _folder;

    public RealShapeReferenceTests(Folder folder) => _folder = folder;

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Load().GetArrayLength(); i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Greedy_RandomWeightsOfRealShape_MatchesLlamaCpp(int index)
    {
        var c = Load()[index];
        var shape = ModelShape.All.Single(s => c.GetProperty("Shape").GetString()!.StartsWith(s.Name + "-", StringComparison.Ordinal))
            .Reduced(c.GetProperty("Layers").GetInt32(), c.GetProperty("Vocab").GetInt32());
        var mix = Enum.Parse<WeightMix>(c.GetProperty("Mix").GetString()!);
        var prompt = c.GetProperty("Prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = c.GetProperty("Ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var path = ShapedModelWriter.Ensure(_folder.Path, shape, mix);
        try
        {
            using var file = GgufFile.Open(path);
            using var model = new TransformerModel(file, new EngineOptions { Threads = c.GetProperty("Threads").GetInt32(), ContextLength = 512 });
            var first = model.Forward(prompt, 0, TestContext.Current.CancellationToken).ToArray();

            foreach (var pair in c.GetProperty("Top").EnumerateArray())
            {
                var id = (int)pair[0].GetSingle();
                var logit = pair[1].GetSingle();
                Assert.True(MathF.Abs(first[id] - logit) <= 1e-5f * (1 + MathF.Abs(logit)), $"{shape.Name} {mix}: logit of {id} is {first[id]}, llama.cpp {logit}");
            }

            var ids = ReferenceOutputTests.GreedyDecode(model, prompt, expected.Length, first);
            Assert.Equal(expected, ids);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static JsonElement Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Engine", "LlamaCppReferences.json")));
        return doc.RootElement.GetProperty("Cases").Clone();
    }

    /// <summary>A temporary folder for the generated models, removed after the class.</summary>
    public sealed class Folder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("real-shapes").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
