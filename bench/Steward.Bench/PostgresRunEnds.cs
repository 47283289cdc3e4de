using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;

using static Steward.Bench.BenchStats;

namespace Steward.Bench;

/// <summary>
/// What PostgreSQL's run-end trigger changes save: the whole pipeline (budgets, pricing, the run writer; instant in-process
/// model) on PostgreSQL with the trigger functions as migrated, and with the functions a change replaced put back in an
/// otherwise identical database. The changes: <c>one-step</c> (migration RunRollupsInOneStep: a run's end adds its
/// difference to run_rollups, latency_rollups and its session instead of taking its share out and putting the new one
/// back), <c>facet-guards</c> (FacetWorkOnlyWhereItCounts: per-user and per-tag rollup workers called only for runs that
/// count in them), or <c>both</c> (the default). A third database, identical to the first, gives the noise floor; the
/// "before" figure is taken against the two current databases' mean. Rounds walk through every order of them
/// (SettingOrder); figures are medians over rounds. Needs <c>STEWARD_BENCH_POSTGRES</c>: a connection string of a user
/// that may create databases (<c>.ci/start-postgres</c> prints one).
/// </summary>
internal static class PostgresRunEnds
{
    public static async Task RunAsync(string[] args)
    {
        var server = Environment.GetEnvironmentVariable("STEWARD_BENCH_POSTGRES") is { Length: > 0 } s ? s
            : throw new InvalidOperationException("STEWARD_BENCH_POSTGRES is not set: start PostgreSQL (.ci/start-postgres prints a connection string) and set it.");
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3200;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        var change = args.Length > 2 ? args[2] : "both";
        string[] before = change switch
        {
            "one-step" => [Storage.Postgres.Migrations.ReportRollupTriggers.RunsRollupFunction()],
            "facet-guards" => [Storage.Postgres.Migrations.FacetHistogramQualityRollups.RunsFacetMoreFunction, Storage.Postgres.Migrations.FacetHourRollups.RunsFacetHoursFunction],
            "both" => [Storage.Postgres.Migrations.ReportRollupTriggers.RunsRollupFunction(), Storage.Postgres.Migrations.FacetHistogramQualityRollups.RunsFacetMoreFunction,
                Storage.Postgres.Migrations.FacetHourRollups.RunsFacetHoursFunction],
            _ => throw new ArgumentException($"Unknown change '{change}': one-step, facet-guards or both."),
        };
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("STEWARD_BENCH_ROUNDS"), out var r) ? r : 9;
        var folder = Directory.CreateTempSubdirectory("steward-bench-pg-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "agents"));
        await File.WriteAllTextAsync(Path.Combine(folder, "agents", "bench.yaml"),
            "name: bench\ndisplay_name: Bench\ninstructions: You answer questions briefly and precisely.\nmax_output_tokens: 256\nbudget:\n  daily_cost_usd: 1000000\n");
        var names = new[] { "current", "before", "twin" };
        var databases = names.ToDictionary(n => n, n => $"steward_bench_{n}_{Environment.ProcessId}");
        var providers = new Dictionary<string, ServiceProvider>();
        try
        {
            foreach (var name in names)
            {
                await ExecuteAsync(server, $"CREATE DATABASE {databases[name]}");
                var database = new NpgsqlConnectionStringBuilder(server) { Database = databases[name] }.ConnectionString;
                providers[name] = await BuildAsync(database, folder);
                if (name == "before")
                {
                    foreach (var sql in before)
                    {
                        await ExecuteAsync(database, sql);
                    }
                }
            }

            Console.WriteLine(FormattableString.Invariant(
                $"PostgreSQL run ends, the triggers as migrated vs before '{change}': instant in-process model, {runs} runs x {rounds} rounds per setting at {concurrency} concurrent, {Environment.ProcessorCount} cores (server on the same machine)"));
            // Warm-up: the runtime's tiered compilation and the server's caches, for every database alike.
            foreach (var name in names)
            {
                await BenchLoad.RunAsync(providers[name].GetRequiredService<AgentRunner>(), concurrency, runs / 2);
            }

            var measured = new List<Dictionary<string, double>>();
            for (var round = 0; round < rounds; round++)
            {
                var means = new Dictionary<string, double>();
                foreach (var name in SettingOrder.Of(names, round))
                {
                    means[name] = (await BenchLoad.RunAsync(providers[name].GetRequiredService<AgentRunner>(), concurrency, runs)).Average();
                }

                measured.Add(means);
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"round {round + 1}: before/current {means["before"] / means["current"]:0.000}, twin/current {means["twin"] / means["current"]:0.000}, current mean {means["current"]:0} µs"));
            }

            // Against both current databases' mean in the round: either alone carries the noise the other shows.
            double Slower(Dictionary<string, double> m) => m["before"] / ((m["current"] + m["twin"]) / 2);
            Console.WriteLine($"{"current mean µs",16} {"before mean µs",15} {"before / current",17} {"noise (twin / current)",23} {"rounds before slowest",22}");
            Console.WriteLine(FormattableString.Invariant(
                $"{Median(measured.Select(m => (m["current"] + m["twin"]) / 2)),16:0} {Median(measured.Select(m => m["before"])),15:0} {Median(measured.Select(Slower)),17:0.000} ") + FormattableString.Invariant(
                $"{Median(measured.Select(m => m["twin"] / m["current"])),23:0.000} {measured.Count(m => m["before"] > Math.Max(m["current"], m["twin"])),16} of {rounds}"));
            Console.WriteLine("A ratio above the noise is what the functions the change replaced cost, end to end; 'rounds before slowest' would be a third by chance.");
        }
        finally
        {
            foreach (var provider in providers.Values)
            {
                await provider.DisposeAsync();
            }

            NpgsqlConnection.ClearAllPools();
            foreach (var database in databases.Values)
            {
                await ExecuteAsync(server, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            }

            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<ServiceProvider> BuildAsync(string database, string folder)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = database,
            ["Steward:Agents:Directory"] = Path.Combine(folder, "agents"),
            ["Steward:DefaultProvider"] = "openai",
            ["Steward:Providers:openai:Kind"] = "openai",
            ["Steward:Providers:openai:ApiKey"] = "unused",
            ["Steward:Providers:openai:Model"] = "gpt-4o-mini",
            ["Steward:Telemetry:Enabled"] = "false",
        };
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(new StderrLogger()))
            .AddStewardEngine(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddSingleton<IChatClientProvider>(new InstantModel(ProviderKinds.OpenAI));
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
        return provider;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
