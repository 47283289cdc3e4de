using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Steward.LocalModels.Bench;

/// <summary>One golden case: a generated model, a prompt, and what llama.cpp answered.</summary>
internal sealed record ReferenceCase(
    string Shape, WeightMix Mix, int Layers, int Vocab, int Threads, int[] Prompt, int[] Ids, float[][] Top);

/// <summary>The fixture file the engine's golden tests read.</summary>
internal sealed record ReferenceFixtures(string LlamaCpp, string Note, ReferenceCase[] Cases);

/// <summary>
/// Regenerates tests/Steward.LocalModels.Tests/Engine/LlamaCppReferences.json: for each case it writes the
/// deterministic random-weight model (real layer shapes, one layer, a 2,048-token vocabulary) and records llama.cpp's
/// greedy ids and its 16 largest first-step logits. The tests write the same files and compare, so CI needs no node.
/// Usage: dotnet run -c Release --project bench/Steward.LocalModels.Bench -- record-fixtures
/// </summary>
internal static class FixtureRecorder
{
    private static readonly int[] ShortPrompt = [1, 300, 301, 302, 305, 310, 320, 330, 340];

    public static JsonSerializerOptions JsonOptions { get; } = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public static IEnumerable<(ModelShape Shape, WeightMix Mix, int[] Prompt, int Steps)> Cases()
    {
        foreach (var (shape, mixes) in new (ModelShape, WeightMix[])[]
        {
            (ModelShape.SmolLM2_135M, [WeightMix.F32, WeightMix.F16, WeightMix.Q8_0]),
            (ModelShape.Qwen25_05B, [WeightMix.F32, WeightMix.Q8_0]),
            (ModelShape.Qwen3_06B, [WeightMix.F32, WeightMix.Q8_0]),
            (ModelShape.Llama32_1B, [WeightMix.F32, WeightMix.Q8_0, WeightMix.Q4_K_M]),
            (ModelShape.Phi3Mini, [WeightMix.F32, WeightMix.Q8_0]),
        })
        {
            foreach (var mix in mixes)
            {
                yield return (shape.Reduced(1, 2048), mix, ShortPrompt, 32);
            }
        }

        // A 100-token prompt (tiled attention) and 200 generated tokens (past 256 cells: the split-KV path).
        var longPrompt = new[] { 1 }.Concat(Enumerable.Range(0, 99).Select(i => 300 + ((i * 37) % 1700))).ToArray();
        yield return (ModelShape.SmolLM2_135M.Reduced(1, 2048), WeightMix.Q8_0, longPrompt, 200);
    }

    public static async Task RunAsync(string script, string output, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), "steward-fixture-models");
        var cases = new List<ReferenceCase>();
        foreach (var (shape, mix, prompt, steps) in Cases())
        {
            var path = ShapedModelWriter.Ensure(folder, shape, mix);
            const int threads = 2;
            var reference = await ReferenceCheck.RunLlamaCppAsync(script, path, threads, prompt, steps, cancellationToken);
            var top = reference.Logits.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(16).Select(p => new[] { p.i, p.v }).ToArray();
            var (ids, _) = ReferenceCheck.RunSteward(path, threads, prompt, steps);
            var agree = ids.Zip(reference.Ids).TakeWhile(p => p.First == p.Second).Count();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{shape.Name} {mix}: {steps} ids recorded, Steward agrees on {agree}"));
            cases.Add(new ReferenceCase(shape.Name, mix, shape.Layers, shape.Vocab, threads, prompt, reference.Ids, top));
            File.Delete(path);
        }

        var fixtures = new ReferenceFixtures(
            "node-llama-cpp 3.22.1 (llama.cpp release v0.5.0, CPU backend zen4 variant, flash attention auto), 2 threads",
            "Regenerate with: dotnet run -c Release --project bench/Steward.LocalModels.Bench -- record-fixtures",
            [.. cases]);
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(fixtures, JsonOptions), cancellationToken);
        Console.WriteLine($"wrote {output}");
    }
}
