using System.Globalization;

namespace Steward.LocalModels.Bench;

/// <summary>
/// Aggregate generation throughput with 1, 2 and 4 requests at once over one loaded model, Steward (its slots and
/// batched decoding) and llama.cpp (one context with a sequence per request, node-llama-cpp batching them), each
/// request a different 16-token prompt and a greedy generation. Runs alternate between the engines; medians.
/// </summary>
internal static class ConcurrencyBenchmark
{
    private static readonly int[] Requests = [1, 2, 4];

    public static async Task RunAsync(IReadOnlyList<BenchFile> files, int[] threadCounts, int rounds, int generate, string? script, CancellationToken cancellationToken)
    {
        var loadBefore = SpeedBenchmark.LoadAverage();
        var rows = new List<string>();
        foreach (var file in files)
        {
            var rng = new Random(7);
            var prompts = Enumerable.Range(0, Requests.Max())
                .Select(_ => Enumerable.Range(0, 16).Select(i => i == 0 ? 1 : rng.Next(259, file.Vocab)).ToArray())
                .ToArray();
            foreach (var threads in threadCounts)
            {
                var steward = Requests.ToDictionary(n => n, _ => new List<double>());
                var llama = Requests.ToDictionary(n => n, _ => new List<double>());
                for (var round = 0; round < rounds; round++)
                {
                    foreach (var n in Requests)
                    {
                        var batch = prompts[..n];
                        var order = round % 2 == 0 ? new[] { false, true } : [true, false];
                        foreach (var isLlama in order)
                        {
                            if (isLlama && script is null)
                            {
                                continue;
                            }

                            var speed = await EngineRunner.ParallelAsync(isLlama ? script : null, file.Path, threads, batch, generate, cancellationToken);
                            (isLlama ? llama : steward)[n].Add(speed);
                        }
                    }

                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {file.Label} threads={threads} round {round + 1}: Steward {string.Join(" / ", Requests.Select(n => steward[n][^1].ToString("F1", CultureInfo.InvariantCulture)))}; llama.cpp {string.Join(" / ", Requests.Select(n => llama[n].Count > 0 ? llama[n][^1].ToString("F1", CultureInfo.InvariantCulture) : "-"))}"));
                }

                var s = Requests.ToDictionary(n => n, n => SpeedBenchmark.Median(steward[n]));
                var l = Requests.ToDictionary(n => n, n => llama[n].Count > 0 ? SpeedBenchmark.Median(llama[n]) : double.NaN);
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{file.Label,-22} {threads,3} | {s[1],8:F1} {s[2],8:F1} {s[4],8:F1} {s[4] / s[1],5:F2}x | {l[1],8:F1} {l[2],8:F1} {l[4],8:F1} {l[4] / l[1],5:F2}x | {s[4] / l[4],5:F2}x"));
            }
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"concurrent requests: aggregate generation tokens/s while all generate (16-token prompts, {generate} tokens each, all started at once); medians of {rounds} rounds"));
        Console.WriteLine($"load average before: {loadBefore}; after: {SpeedBenchmark.LoadAverage()} (2 cores, shared)");
        Console.WriteLine("file                   thr |  Stw x1   Stw x2   Stw x4  4 vs 1 | lcpp x1  lcpp x2  lcpp x4  4 vs 1 | Stw/lcpp at 4");
        foreach (var row in rows)
        {
            Console.WriteLine(row);
        }
    }
}
