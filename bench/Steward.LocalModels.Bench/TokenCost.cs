using System.Diagnostics;
using System.Globalization;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// What one generated token costs beyond its weight products (<c>token-cost FILE [--threads N]</c>): the fastest
/// single-token forward pass over a run of positions, against the fastest pass of the same file's matrix products
/// alone (<see cref="Micro.All"/>'s figure). Best-of timings, so a machine shared with other work still shows the gap.
/// </summary>
internal static class TokenCost
{
    public static void Run(string path, int threads, int tokens)
    {
        using var file = GgufFile.Open(path);
        using var model = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(512, tokens + 64) });
        int[] prompt = [.. Enumerable.Range(300, 32)];
        _ = model.Forward(prompt, 0);
        var best = double.MaxValue;
        for (var i = 0; i < tokens; i++)
        {
            var sw = Stopwatch.StartNew();
            _ = model.Forward([300 + (i % 100)], prompt.Length + i);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"one token, {threads} thr: best {best * 1e3:F2} ms over {tokens} positions ({model.WeightBytesPerToken / 1e6:F0} MB of weights, {model.WeightBytesPerToken / best / 1e9:F2} GB/s)"));
    }
}
