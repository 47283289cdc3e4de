using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Generation;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// The Steward side of a measurement, in its own process (<c>run-steward MODEL THREADS IDS GENERATE</c>), shaped like
/// bench.mjs: a warm-up prompt pass (pages the weights in), then two runs of a prompt pass and a greedy generation,
/// keeping the best of each; prints one JSON line with the speeds, the ids and the process's peak resident memory.
/// </summary>
internal static class StewardRun
{
    public static void Run(string path, int threads, int[] prompt, int generate)
    {
        using var file = GgufFile.Open(path, resident: true);
        using var model = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(512, prompt.Length + generate + 16) });
        var generator = new TokenGenerator(model);
        _ = model.Forward(prompt, 0);
        double pp = 0, tg = 0;
        int[] ids = [];
        for (var run = 0; run < 2; run++)
        {
            var sw = Stopwatch.StartNew();
            _ = model.Forward(prompt, 0);
            pp = Math.Max(pp, prompt.Length / sw.Elapsed.TotalSeconds);

            generator.Reset();
            var list = new List<int>();
            long first = 0;
            foreach (var id in generator.Generate(prompt, new GenerationOptions { MaxTokens = generate + 1 }, new GenerationResult()))
            {
                list.Add(id);
                if (list.Count == 1)
                {
                    first = Stopwatch.GetTimestamp();
                }
            }

            var speed = (list.Count - 1) / Stopwatch.GetElapsedTime(first).TotalSeconds;
            if (speed > tg)
            {
                tg = speed;
                ids = [.. list.Take(generate)];
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            engine = "Steward",
            threads,
            promptTokensPerSecond = pp,
            generationTokensPerSecond = tg,
            ids,
            peakRssBytes = PeakRss(),
            weightBytesPerToken = model.WeightBytesPerToken,
        }));
    }

    /// <summary>VmHWM from /proc/self/status (Linux), else the process's peak working set.</summary>
    public static long PeakRss()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            foreach (var line in File.ReadLines(status))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
