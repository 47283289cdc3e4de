using System.Diagnostics;
using System.Globalization;
using Steward.LocalModels.Engine.Generation;

namespace Steward.LocalModels.Bench;

/// <summary>
/// What sampling one token costs (<c>sampler [--vocab N]</c>) with llama.cpp's default settings (temperature 0.8, top-k 40,
/// top-p 0.95, min-p 0.05), against the same vocabulary sorted whole with a comparer (how the sampler chose its
/// candidates before), measured in the same run. Best of 50 calls each, on random logits.
/// </summary>
internal static class SamplerCost
{
    public static void Run(int vocab)
    {
        var rng = new Random(5);
        var logits = new float[vocab];
        for (var i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)(rng.NextDouble() * 20 - 10);
        }

        var sampler = new Sampler(new SamplingOptions { Seed = 1 });
        var copy = new float[vocab];
        var sampled = Best(() =>
        {
            logits.CopyTo(copy, 0);
            _ = sampler.Sample(copy, []);
        });

        var ids = new int[vocab];
        var values = new float[vocab];
        var fullSort = Best(() =>
        {
            for (var i = 0; i < vocab; i++)
            {
                ids[i] = i;
                values[i] = logits[i];
            }

            Array.Sort(values, ids, 0, vocab, Comparer<float>.Create((x, y) => y.CompareTo(x)));
        });

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sampling one token, vocabulary {vocab:N0}: {sampled * 1e3:F3} ms; whole-vocabulary sort (before): {fullSort * 1e3:F3} ms; {fullSort / sampled:F1}x faster"));
    }

    private static double Best(Action action)
    {
        var best = double.MaxValue;
        for (var i = 0; i < 50; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        return best;
    }
}
