using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;

namespace Steward.Bench;

/// <summary>
/// What PostgreSQL's one-step run-end trigger (migration RunRollupsInOneStep) saves: the whole pipeline (budgets,
/// pricing, the run writer; instant in-process model) on PostgreSQL, with the trigger function as migrated, and with the
/// function it replaced (a run's end takes its share out of run_rollups, latency_rollups and its session and puts the new
/// one back), put back in an otherwise identical database. A third database, identical to the first, gives the noise
/// floor; the out-and-in figure is taken against the two one-step databases' mean. Rounds rotate between them; figures are medians over rounds. Needs <c>STEWARD_BENCH_POSTGRES</c>: a
/// connection string of a user that may create databases (<c>.ci/start-postgres</c> prints one).
/// </summary>
internal static class PostgresRunEnds
{
    public static async Task RunAsync(string[] args)
    {
        var server = Environment.GetEnvironmentVariable("STEWARD_BENCH_POSTGRES") is { Length: > 0 } s ? s
            : throw new InvalidOperationException("STEWARD_BENCH_POSTGRES is not set: start PostgreSQL (.ci/start-postgres prints a connection string) and set it.");
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3200;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("STEWARD_BENCH_ROUNDS"), out var r) ? r : 9;
        var folder = Directory.CreateTempSubdirectory("steward-bench-pg-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "agents"));
        await File.WriteAllTextAsync(Path.Combine(folder, "agents", "bench.yaml"),
            "name: bench\ndisplay_name: Bench\ninstructions: You answer questions briefly and precisely.\nmax_output_tokens: 256\nbudget:\n  daily_cost_usd: 1000000\n");
        var names = new[] { "one_step", "out_and_in", "twin" };
        var databases = names.ToDictionary(n => n, n => $"steward_bench_{n}_{Environment.ProcessId}");
        var providers = new Dictionary<string, ServiceProvider>();
        try
        {
            foreach (var name in names)
            {
                await ExecuteAsync(server, $"CREATE DATABASE {databases[name]}");
                var database = new NpgsqlConnectionStringBuilder(server) { Database = databases[name] }.ConnectionString;
                providers[name] = await BuildAsync(database, folder);
                if (name == "out_and_in")
                {
                    await ExecuteAsync(database, Storage.Postgres.Migrations.ReportRollupTriggers.RunsRollupFunction());
                }
            }

            Console.WriteLine(FormattableString.Invariant(
                $"PostgreSQL run ends, one-step trigger vs out-and-in: instant in-process model, {runs} runs x {rounds} rounds per setting at {concurrency} concurrent, {Environment.ProcessorCount} cores (server on the same machine)"));
            // Warm-up: the runtime's tiered compilation and the server's caches, for every database alike.
            foreach (var name in names)
            {
                await BenchLoad.RunAsync(providers[name].GetRequiredService<AgentRunner>(), concurrency, runs / 2);
            }

            var measured = new List<Dictionary<string, double>>();
            for (var round = 0; round < rounds; round++)
            {
                var means = new Dictionary<string, double>();
                for (var i = 0; i < names.Length; i++)
                {
                    var name = names[(i + round) % names.Length];
                    means[name] = (await BenchLoad.RunAsync(providers[name].GetRequiredService<AgentRunner>(), concurrency, runs)).Average();
                }

                measured.Add(means);
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"round {round + 1}: out-and-in/one-step {means["out_and_in"] / means["one_step"]:0.000}, twin/one-step {means["twin"] / means["one_step"]:0.000}, one-step mean {means["one_step"]:0} µs"));
            }

            // Against both one-step databases' mean in the round: either alone carries the noise the other shows.
            double Slower(Dictionary<string, double> m) => m["out_and_in"] / ((m["one_step"] + m["twin"]) / 2);
            Console.WriteLine($"{"one-step mean µs",17} {"out-and-in mean µs",19} {"out-and-in / one-step",22} {"noise (twin / one-step)",24} {"rounds out-and-in slowest",26}");
            Console.WriteLine(FormattableString.Invariant(
                $"{Median(measured.Select(m => (m["one_step"] + m["twin"]) / 2)),17:0} {Median(measured.Select(m => m["out_and_in"])),19:0} {Median(measured.Select(Slower)),22:0.000} ") + FormattableString.Invariant(
                $"{Median(measured.Select(m => m["twin"] / m["one_step"])),24:0.000} {measured.Count(m => m["out_and_in"] > Math.Max(m["one_step"], m["twin"])),20} of {rounds}"));
            Console.WriteLine("A ratio above the noise is what taking a run's end out and in again cost, end to end, against adding its difference in one step.");
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

    private static double Median(IEnumerable<double> values)
    {
        var a = values.Order().ToArray();
        return a[a.Length / 2];
    }
}
