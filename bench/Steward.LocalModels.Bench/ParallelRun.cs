using System.Diagnostics;
using System.Text.Json;
using Steward.LocalModels.Engine;
using Steward.LocalModels.Engine.Generation;
using Steward.LocalModels.Gguf;

namespace Steward.LocalModels.Bench;

/// <summary>
/// Aggregate generation throughput of several requests at once, in its own process
/// (<c>run-steward-parallel MODEL THREADS GENERATE PROMPTS</c>, prompts as ids "1,2,3;1,4,5"): one model with a slot per request, each
/// request started together on the scheduler LocalChatClient uses, with different prompts;
/// aggregate = tokens received while all of them are generating ÷ that time (prompt processing is left out, as in the
/// speed table's generation figure). A warm-up round pages the weights in; the best of two rounds is printed as one
/// JSON line. parallel.mjs does the same with llama.cpp.
/// </summary>
internal static class ParallelRun
{
    public static void Run(string path, int threads, int generate, int[][] prompts)
    {
        var requests = prompts.Length;
        var promptLength = prompts.Max(p => p.Length);
        using var file = GgufFile.Open(path, resident: true);
        using var model = new TransformerModel(file, new EngineOptions { Threads = threads, ContextLength = Math.Max(256, promptLength + generate + 16), Slots = requests });
        using var scheduler = new GenerationScheduler(model);
        var best = 0.0;
        for (var round = 0; round < 3; round++)
        {
            var times = Task.WhenAll(prompts.Select(async p =>
            {
                using var stream = await scheduler.StartAsync(p, new GenerationOptions { MaxTokens = generate }, CancellationToken.None);
                var stamps = new List<long>();
                await foreach (var _ in stream.ReadAllAsync())
                {
                    stamps.Add(Stopwatch.GetTimestamp());
                }

                return stamps;
            })).GetAwaiter().GetResult();
            var aggregate = SteadyAggregate(times);
            if (round > 0)
            {
                best = Math.Max(best, aggregate);
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(new { engine = "Steward", threads, requests, aggregateTokensPerSecond = best, averageBatch = (double)scheduler.DecodeTotals.Rows / scheduler.DecodeTotals.Batches }));
    }

    /// <summary>
    /// Tokens per second while every request is generating: from the last request's first token to the first
    /// request's last token, the tokens all of them received in that window. With one request it is the speed table's
    /// generation figure.
    /// </summary>
    private static double SteadyAggregate(IReadOnlyList<List<long>> stamps)
    {
        var from = stamps.Max(s => s[0]);
        var to = stamps.Min(s => s[^1]);
        var tokens = stamps.Sum(s => s.Count(t => t > from && t <= to));
        return tokens / Stopwatch.GetElapsedTime(from, to).TotalSeconds;
    }
}
