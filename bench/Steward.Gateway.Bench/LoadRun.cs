using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Steward.Gateway.Bench;

/// <summary>One target the load generator calls: a URL and the headers its gateway wants.</summary>
internal sealed record Target(string Name, string Url, string Body, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// What one load run measured: completed requests per second and latency percentiles in milliseconds over the measured
/// time; <paramref name="Answered"/> counts every answer, the warm-up's too (what the gateway's CPU time was spent on).
/// <paramref name="Mean"/> is what throughput follows (at one in flight, its inverse): far above the p50, it says a tail
/// of slow requests, not the typical one, limits the throughput. <paramref name="SlowestShare"/> says how far: the share of
/// the measured requests' time that went to the slowest 5% of them (5% if they were all alike).
/// </summary>
internal sealed record LoadResult(double Throughput, double P50, double Mean, double P99, long Completed, long Failed, long Answered, double SlowestShare);

/// <summary>
/// Closed-loop load: N workers each send a request, wait for the whole answer, and send the next, for a fixed time after a
/// warm-up. Every answer must be 200 with the expected text, or it counts as failed.
/// </summary>
internal static class LoadRun
{
    public static HttpClient Client() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 4096, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseProxy = false, AutomaticDecompression = DecompressionMethods.None,
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<LoadResult> RunAsync(HttpClient http, Target target, int concurrency, TimeSpan warmUp, TimeSpan measure)
    {
        var body = Encoding.UTF8.GetBytes(target.Body);
        var latencies = new List<double>[concurrency];
        long failed = 0;
        long answered = 0;
        var measuring = false;
        var stop = false;
        var measureStarted = 0L;
        async Task WorkerAsync(int index)
        {
            var mine = latencies[index] = new List<double>(4096);
            while (!Volatile.Read(ref stop))
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                foreach (var (name, value) in target.Headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                var started = Stopwatch.GetTimestamp();
                var ok = false;
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                    var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                    ok = response.IsSuccessStatusCode && text.Contains("Hello from the instant upstream.", StringComparison.Ordinal);
                    Interlocked.Increment(ref answered);
                    if (!ok && Interlocked.Increment(ref failed) <= 3)
                    {
                        Console.Error.WriteLine($"{target.Name}: {(int)response.StatusCode} {text[..Math.Min(300, text.Length)]}");
                    }
                }
                catch (HttpRequestException ex)
                {
                    if (Interlocked.Increment(ref failed) <= 3)
                    {
                        Console.Error.WriteLine($"{target.Name}: {ex.Message}");
                    }
                }

                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (ok && Volatile.Read(ref measuring) && started >= Volatile.Read(ref measureStarted))
                {
                    mine.Add(elapsed);
                }
            }
        }

        var workers = Enumerable.Range(0, concurrency).Select(i => Task.Run(() => WorkerAsync(i))).ToArray();
        await Task.Delay(warmUp).ConfigureAwait(false);
        Interlocked.Exchange(ref failed, 0);
        Volatile.Write(ref measureStarted, Stopwatch.GetTimestamp());
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(measure).ConfigureAwait(false);
        Volatile.Write(ref measuring, false);
        var seconds = clock.Elapsed.TotalSeconds;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(workers).ConfigureAwait(false);

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        double Percentile(double p) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)Math.Ceiling(p * all.Length) - 1)];
        var slowest = all.Length == 0 ? double.NaN : all[(all.Length - (all.Length + 19) / 20)..].Sum() / all.Sum();
        return new LoadResult(all.Length / seconds, Percentile(0.50), all.Length == 0 ? double.NaN : all.Average(), Percentile(0.99), all.Length,
            Interlocked.Read(ref failed), Interlocked.Read(ref answered), slowest);
    }
}
