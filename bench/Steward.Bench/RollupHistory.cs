using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Steward.Storage;

using static Steward.Bench.BenchStats;

namespace Steward.Bench;

/// <summary>
/// `rollups [DAYS] [RUNS] [ROUNDS]`: whether a run costs more on a store that has seen a long history. The same governed
/// pipeline (real SQLite storage and triggers, instant in-process model) on an empty store, on a store whose facet
/// rollups already hold DAYS days of rows (40 agent, model and status combinations a day, and 20 users' rows), and on a
/// second empty store as the noise floor; 64 concurrent runs, settings rotating by round. A run's end updates those
/// rollups in its triggers: the figure is the aged store's mean run latency over the empty one's.
/// </summary>
internal static class RollupHistory
{
    public static async Task RunAsync(
        Func<string, bool, Task<ServiceProvider>> build, Func<ServiceProvider, int, int, Task<Measured>> measure, string[] args)
    {
        var days = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 730;
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_600;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 6;
        await using var fresh = await build("rollups-fresh", true);
        await using var aged = await build("rollups-aged", true);
        await using var twin = await build("rollups-twin", true);
        var rows = await AgeAsync(aged, days);
        Console.WriteLine($"A run on a store with history: governed pipeline, instant in-process model, SQLite, 64 concurrent, {runs} runs x {rounds} rounds, {Environment.ProcessorCount} cores");
        Console.WriteLine($"aged store: {days:N0} days of facet rollups ({rows:N0} rows of run_facet_rollups)");
        var settings = new[] { (Name: "fresh", Provider: fresh), (Name: "aged", Provider: aged), (Name: "twin", Provider: twin) };
        foreach (var (_, provider) in settings)
        {
            await measure(provider, 64, runs / 2);
        }

        var ratios = new List<(double Aged, double Noise, double FreshMean, double AgedMean)>();
        for (var round = 0; round < rounds; round++)
        {
            var measured = new Dictionary<string, Measured>();
            foreach (var (name, provider) in SettingOrder.Of(settings, round))
            {
                measured[name] = await measure(provider, 64, runs);
            }

            ratios.Add((measured["aged"].Mean / measured["fresh"].Mean, measured["twin"].Mean / measured["fresh"].Mean, measured["fresh"].Mean, measured["aged"].Mean));
        }

        Console.WriteLine($"{"fresh mean µs",14} {"aged mean µs",13} {"aged ratio",11} {"noise ratio",12}");
        Console.WriteLine(FormattableString.Invariant(
            $"{Median(ratios.Select(r => r.FreshMean)),14:0} {Median(ratios.Select(r => r.AgedMean)),13:0} {Median(ratios.Select(r => r.Aged)),11:0.000} {Median(ratios.Select(r => r.Noise)),12:0.000}"));
        Console.WriteLine("aged ratio = mean run latency on the aged store / on an empty one, median over rounds; noise = a second empty store / the first.");
    }

    /// <summary>Fills the store's facet rollups with <paramref name="days"/> days before today; returns the rows run_facet_rollups then holds.</summary>
    private static async Task<long> AgeAsync(ServiceProvider provider, int days)
    {
        await using var connection = provider.GetRequiredService<StorageBackend>().CreateConnection();
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var fill = connection.CreateCommand())
        {
            fill.CommandText = $"""
            WITH RECURSIVE n(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM n WHERE v < {days * 60 - 1})
            INSERT INTO run_facet_rollups SELECT CASE WHEN v % 60 < 40 THEN '' ELSE 'user' END, CASE WHEN v % 60 < 40 THEN '' ELSE 'u' || (v % 60 - 40) END,
                date('now', '-' || (1 + v / 60) || ' days') || ' 00:00:00', 'agent' || (v % 5), 'openai', 'model' || ((v / 5) % 2),
                CASE WHEN v % 60 < 40 THEN 'status' || ((v / 10) % 4) ELSE 'Completed' END, 3, 3, 0, 3000, 100, 20, 50, 0, 0, 0 FROM n
            """;
            await fill.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM run_facet_rollups";
        return Convert.ToInt64(await count.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
