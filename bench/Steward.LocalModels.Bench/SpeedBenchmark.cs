using System.Globalization;

namespace Steward.LocalModels.Bench;

/// <summary>A file to measure: the test model or a generated random-weight model of a real shape.</summary>
internal sealed record BenchFile(string Label, string Path, int Vocab);

/// <summary>
/// Steward vs llama.cpp per file and thread count: prompt processing and generation tokens/s, their ratio, each
/// process's peak memory, and generation against the memory-bandwidth ceiling. The engines run in alternating order
/// for several rounds (the machine is shared: a burst of other work should not land on one engine only), and the
/// table reports medians.
/// </summary>
internal static class SpeedBenchmark
{
    public static async Task RunAsync(IReadOnlyList<BenchFile> files, int[] threadCounts, int rounds, int promptLength, int generate, string? script, CancellationToken cancellationToken)
    {
        var loadBefore = LoadAverage();
        var bandwidth = threadCounts.ToDictionary(t => t, Bandwidth.Measure);
        foreach (var (t, b) in bandwidth)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory read bandwidth, {t} thread(s): {b / 1e9:F1} GB/s"));
        }

        var rows = new List<string>();
        foreach (var file in files)
        {
            var rng = new Random(42);
            var prompt = Enumerable.Range(0, promptLength).Select(i => i == 0 ? 1 : rng.Next(259, file.Vocab)).ToArray();
            var bytesPerToken = WeightBytes(file.Path);
            foreach (var threads in threadCounts)
            {
                var steward = new List<SpeedResult>();
                var llama = new List<SpeedResult>();
                for (var round = 0; round < rounds; round++)
                {
                    // Alternate which engine goes first.
                    if (round % 2 == 0)
                    {
                        steward.Add(await EngineRunner.StewardAsync(file.Path, threads, prompt, generate, cancellationToken));
                        if (script is not null)
                        {
                            llama.Add(await EngineRunner.LlamaCppAsync(script, file.Path, threads, prompt, generate, cancellationToken));
                        }
                    }
                    else
                    {
                        if (script is not null)
                        {
                            llama.Add(await EngineRunner.LlamaCppAsync(script, file.Path, threads, prompt, generate, cancellationToken));
                        }

                        steward.Add(await EngineRunner.StewardAsync(file.Path, threads, prompt, generate, cancellationToken));
                    }

                    var s = steward[^1];
                    var l = llama.Count > 0 ? llama[^1] : null;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {file.Label} threads={threads} round {round + 1}: Steward pp {s.PromptTokensPerSecond:F1} tg {s.GenerationTokensPerSecond:F1}; llama.cpp pp {l?.PromptTokensPerSecond:F1} tg {l?.GenerationTokensPerSecond:F1}"));
                }

                var sPp = Median(steward.Select(r => r.PromptTokensPerSecond));
                var sTg = Median(steward.Select(r => r.GenerationTokensPerSecond));
                var lPp = llama.Count > 0 ? Median(llama.Select(r => r.PromptTokensPerSecond)) : double.NaN;
                var lTg = llama.Count > 0 ? Median(llama.Select(r => r.GenerationTokensPerSecond)) : double.NaN;
                var sRss = steward.Max(r => r.PeakRssBytes) / 1048576.0;
                var lRss = llama.Count > 0 ? llama.Max(r => r.PeakRssBytes) / 1048576.0 : double.NaN;
                var ceiling = bandwidth[threads] / bytesPerToken;
                var agree = llama.Count > 0 ? steward[0].Ids.Zip(llama[0].Ids).TakeWhile(p => p.First == p.Second).Count() : -1;
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{file.Label,-22} {threads,3} | {sPp,9:F1} {lPp,9:F1} {sPp / lPp,6:F2}x | {sTg,8:F1} {lTg,8:F1} {sTg / lTg,6:F2}x | {sRss,7:F0} {lRss,7:F0} | {bytesPerToken / 1e6,8:F1} {ceiling,8:F0} {sTg / ceiling * 100,5:F0}% {lTg / ceiling * 100,5:F0}% | {(agree < 0 ? "-" : agree + "/" + generate)}"));
            }
        }

        var loadAfter = LoadAverage();
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prompt {promptLength} tokens, generation {generate} tokens, tokens/s; medians of {rounds} rounds, engines alternated, each run in its own process (best of 2 passes)"));
        Console.WriteLine($"load average before: {loadBefore}; after: {loadAfter} (2 cores, shared)");
        Console.WriteLine("file                   thr |   pp Stw  pp llama  ratio |   tg Stw tg llama  ratio | RSS Stw RSS lcpp |  MB/tok  ceiling  Stw%  lcpp% | same ids");
        foreach (var row in rows)
        {
            Console.WriteLine(row);
        }

        Console.WriteLine("pp = prompt processing, tg = generation; RSS = peak resident memory in MiB of the engine's process (llama.cpp's includes");
        Console.WriteLine("node, about 45 MiB); ceiling = memory bandwidth ÷ weight bytes read per token, the most generation can do; Stw% and");
        Console.WriteLine("lcpp% are each engine's generation as a share of it; same ids = leading greedy tokens equal to llama.cpp's.");
    }

    private static long WeightBytes(string path)
    {
        using var file = Gguf.GgufFile.Open(path);
        using var model = new Engine.TransformerModel(file, new Engine.EngineOptions { Threads = 1, ContextLength = 16 });
        return model.WeightBytesPerToken;
    }

    public static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
