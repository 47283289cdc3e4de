using System.Diagnostics;
using Steward.Agents;

namespace Steward.Bench;

/// <summary>The load both benchmarks put on a pipeline: closed-loop runs of the bench preset at a fixed concurrency.</summary>
internal static class BenchLoad
{
    /// <summary>Runs <paramref name="runs"/> questions, <paramref name="concurrency"/> at a time; returns the latencies in µs, sorted.</summary>
    public static async Task<double[]> RunAsync(AgentRunner runner, int concurrency, int runs)
    {
        var latencies = new double[runs];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < runs)
            {
                var started = Stopwatch.GetTimestamp();
                var response = await runner.RunAsync(new RunRequest { Preset = "bench", Query = "What is the capital of France?" });
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                if (response.Status != RunStatus.Completed)
                {
                    throw new InvalidOperationException($"A benchmark run ended {response.Status}: {response.Error?.Message}");
                }
            }
        })));
        Array.Sort(latencies);
        return latencies;
    }
}
