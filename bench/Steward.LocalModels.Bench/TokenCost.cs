using System.Diagnostics;
using System.Globalization;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// What one generated token costs beyond its weight products (<c>token-cost FILE [--threads N --tokens N --prompt N]</c>): the fastest
/// single-token forward pass over a run of positions, against the fastest pass of the same file's matrix products
/// alone (<see cref="Micro.All"/>'s figure). Best-of timings, so a machine shared with other work still shows the gap.
/// </summary>
internal static class TokenCost
{
    public static void Run(string path, int threads, int tokens, int promptLength)
    {
        using var file = GgufFile.Open(path, resident: true);
        using var model = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(512, promptLength + tokens + 64) });
        int[] prompt = [.. Enumerable.Range(300, promptLength)];
        _ = model.Forward(prompt, 0);
        var best = double.MaxValue;
        var cpu = new double[tokens];
        for (var i = 0; i < tokens; i++)
        {
            var sw = Stopwatch.StartNew();
            var c0 = ThreadClock.Now();
            _ = model.Forward([300 + (i % 100)], prompt.Length + i);
            cpu[i] = ThreadClock.Now() - c0;
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        // With one thread the pass runs on this thread, so its CPU time leaves out the time other processes held the core.
        Array.Sort(cpu);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"one token, {threads} thr: best {best * 1e3:F2} ms over positions {promptLength}..{promptLength + tokens - 1} ({model.WeightBytesPerToken / 1e6:F0} MB of weights, {model.WeightBytesPerToken / best / 1e9:F2} GB/s){(threads == 1 ? $"; CPU time median {cpu[tokens / 2] * 1e3:F2} ms" : "")}"));
    }
}
