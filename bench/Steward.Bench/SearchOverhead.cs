using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;
using Steward.Tools.Corpus;

using static Steward.Bench.BenchStats;

namespace Steward.Bench;

/// <summary>
/// What web search over the local corpus adds to a run: the same pipeline (real budgets, pricing, SQLite, instant
/// in-process model) for a preset without tools, the same preset with <c>web_search: { mode: always }</c> (a corpus
/// search before every model call, its sources in the prompt, a tool call and citations stored), and the preset
/// without tools again as the noise floor. The corpus is generated: documents of about 2,000 characters over a
/// vocabulary of 5,000 words, so a question matches many documents as real ones do. Figures are medians over rounds.
/// </summary>
internal static class SearchOverhead
{
    private const int Rounds = 6;

    public static async Task RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
        var documents = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000;
        var folder = Directory.CreateTempSubdirectory("steward-bench-search-").FullName;
        var agents = Directory.CreateDirectory(Path.Combine(folder, "agents")).FullName;
        const string Preset = "name: bench\ndisplay_name: Bench\ninstructions: You answer questions briefly and precisely.\nmax_output_tokens: 256\n";
        var corpus = Path.Combine(folder, "corpus.db");
        var indexed = await IndexAsync(corpus, Path.Combine(folder, "docs"), documents);
        Console.WriteLine($"Web search overhead: instant in-process model, SQLite, budgets and pricing on, corpus of {documents:N0} documents ({indexed.TotalMilliseconds:N0} ms to index), {runs} runs x {Rounds} rounds, concurrency 1, {Environment.ProcessorCount} cores");
        var rows = new List<(double Off, double On, double Ratio, double Noise)>();
        for (var round = 0; round < Rounds; round++)
        {
            string[] order = ["none", "search", "none again"];
            var results = new Dictionary<string, double[]>();
            foreach (var name in SettingOrder.Of(order, round))
            {
                await File.WriteAllTextAsync(Path.Combine(agents, "bench.yaml"), Preset + (name == "search" ? "web_search:\n  mode: always\n" : ""));
                results[name] = await MeasureAsync(Path.Combine(folder, name.Replace(' ', '-') + ".db"), agents, corpus, runs);
            }

            rows.Add((Median(results["none"]), Median(results["search"]), results["search"].Average() / results["none"].Average(),
                results["none again"].Average() / results["none"].Average()));
        }

        Console.WriteLine($"{"no tools p50 µs",16} {"search p50 µs",14} {"ratio (mean)",13} {"noise (mean)",13}");
        Console.WriteLine(FormattableString.Invariant(
            $"{Median(rows.Select(r => r.Off)),16:0} {Median(rows.Select(r => r.On)),14:0} {Median(rows.Select(r => r.Ratio)),13:0.000} {Median(rows.Select(r => r.Noise)),13:0.000}"));
        Console.WriteLine("ratio = mean run latency with a corpus search first / without tools, in the same round; noise = without / without.");
        Directory.Delete(folder, recursive: true);
    }

    private static async Task<TimeSpan> IndexAsync(string corpus, string docs, int count)
    {
        Directory.CreateDirectory(docs);
        var random = new Random(42);
        var words = Enumerable.Range(0, 5_000).Select(i => "w" + i.ToString("x", CultureInfo.InvariantCulture)).Concat(["capital", "france", "paris", "market", "growth"]).ToArray();
        for (var d = 0; d < count; d++)
        {
            var text = new StringBuilder("# Document ").Append(d).Append("\n\n");
            for (var w = 0; w < 300; w++)
            {
                text.Append(words[(int)Math.Min(words.Length - 1, Math.Abs(random.NextDouble() * random.NextDouble() * words.Length))]).Append(w % 20 == 19 ? ".\n\n" : " ");
            }

            await File.WriteAllTextAsync(Path.Combine(docs, $"d{d}.md"), text.ToString());
        }

        var store = new CorpusStore(Microsoft.Extensions.Options.Options.Create(new CorpusOptions { Database = corpus }),
            Microsoft.Extensions.Options.Options.Create(new StorageOptions { Database = corpus + ".main" }), TimeProvider.System);
        var started = Stopwatch.GetTimestamp();
        await store.AddAsync([docs], CancellationToken.None);
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<double[]> MeasureAsync(string database, string agents, string corpus, int runs)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = database,
            ["Steward:Corpus:Database"] = corpus,
            ["Steward:Agents:Directory"] = agents,
            ["Steward:DefaultProvider"] = "openai",
            ["Steward:Providers:openai:Kind"] = "openai",
            ["Steward:Providers:openai:ApiKey"] = "unused",
            ["Steward:Providers:openai:Model"] = "gpt-4o-mini",
            ["Steward:Telemetry:Enabled"] = "false",
        };
        var services = new ServiceCollection().AddLogging().AddStewardEngine(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddSingleton<IChatClientProvider>(new InstantModel(ProviderKinds.OpenAI));
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        var runner = provider.GetRequiredService<AgentRunner>();
        await BenchLoad.RunAsync(runner, 1, runs / 4);
        return await BenchLoad.RunAsync(runner, 1, runs);
    }
}
