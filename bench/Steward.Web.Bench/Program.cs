using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward;
using Steward.Costs;
using Steward.Storage;
using Steward.Analytics;
using Steward.Web.History;
using Steward.Web.Hosting;

// Stores 100,000 runs (20,000 sessions, three agents, four models, 90 days, half of them scored) in a fresh database,
// then times the Analytics and History pages' data queries. Usage: dotnet run -c Release --project
// bench/Steward.Web.Bench [-- --runs N --iterations N --db CONNECTION]. SQLite in a temporary folder by default;
// --db Host=…;Database=… uses that (empty) PostgreSQL database. Prints p50/p95 per query, and each p95 as a ratio of the
// baseline (one pass over all runs, timed in the same run); the target is p95 <= 200 ms.
var runCount = Argument("--runs", 100_000);
var iterations = Argument("--iterations", 30);
var dbIndex = Array.IndexOf(args, "--db");
var database = dbIndex >= 0 && dbIndex + 1 < args.Length ? args[dbIndex + 1] : null;
var folder = Directory.CreateTempSubdirectory("steward-web-bench-");
try
{
    var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Steward:Storage:Database"] = database ?? Path.Combine(folder.FullName, "bench.db"),
        ["Steward:Agents:Directory"] = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName,
    }).Build();
    var services = new ServiceCollection();
    services.AddStewardEngine(configuration);
    services.AddStewardQueries();
    await using var provider = services.BuildServiceProvider();
    await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);

    var seeding = Stopwatch.StartNew();
    var end = new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc);
    await SeedAsync(provider.GetRequiredService<IDbContextFactory<StewardDbContext>>(), runCount, end);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<StorageOptions>>().Value.Provider}: seeded {runCount:N0} runs in {runCount / 5:N0} sessions in {seeding.Elapsed.TotalSeconds:0.0} s"));
    if (database is not null)
    {
        // PostgreSQL plans from statistics: gather them once the rows are in, as autovacuum would shortly after a bulk load.
        await using var db = await provider.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync();
        await db.Database.ExecuteSqlRawAsync("ANALYZE");
    }

    var analytics = provider.GetRequiredService<AnalyticsQueries>();
    var search = provider.GetRequiredService<SessionSearch>();
    var last30 = new DateTimeOffset(end.AddDays(-30));
    (string Name, Func<Task> Run)[] queries =
    [
        ("analytics: all runs (costs, latency, quality, choices)", () => analytics.GetAsync(new CostFilter(), CancellationToken.None)),
        ("  of which costs (rollups)", () => analytics.GetCostsAsync(new CostFilter(), CancellationToken.None)),
        ("  of which latency percentiles", () => analytics.GetLatencyAsync(new CostFilter(), CancellationToken.None)),
        ("  of which quality trend", () => analytics.GetQualityTrendAsync(new CostFilter(), CancellationToken.None)),
        ("  of which filter choices", () => analytics.GetFilterChoicesAsync(CancellationToken.None)),
        ("analytics: one agent, last 30 days", () => analytics.GetAsync(new CostFilter { Agent = "market_analyst", From = last30 }, CancellationToken.None)),
        ("analytics: one model", () => analytics.GetAsync(new CostFilter { Model = "gpt-4o-mini" }, CancellationToken.None)),
        ("history: first page", () => search.SearchAsync(new SessionFilter(), 0, 25, CancellationToken.None)),
        ("history: page 400", () => search.SearchAsync(new SessionFilter(), 10_000, 25, CancellationToken.None)),
        ("history: text search", () => search.SearchAsync(new SessionFilter { Text = "inflation 123" }, 0, 25, CancellationToken.None)),
        ("history: agent + dates", () => search.SearchAsync(new SessionFilter { Agent = "tech_advisor", From = last30 }, 0, 25, CancellationToken.None)),
        ("history: cost range", () => search.SearchAsync(new SessionFilter { MinCostUsd = 0.01m, MaxCostUsd = 0.02m }, 0, 25, CancellationToken.None)),
        ("history: min quality", () => search.SearchAsync(new SessionFilter { MinQuality = 80 }, 0, 25, CancellationToken.None)),
    ];

    // The baseline, timed the same way in the same run: one pass over every stored run (what a report that reads the raw
    // rows must at least do), so the figures can be compared across machines and loads as ratios.
    var contexts = provider.GetRequiredService<IDbContextFactory<StewardDbContext>>();
    async Task ScanAsync()
    {
        await using var db = await contexts.CreateDbContextAsync();
        _ = await db.Runs.AsNoTracking().SumAsync(r => r.InputTokens);
    }

    var kolkata = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
    queries =
    [
        ("baseline: one pass over all runs", ScanAsync),
        ("baseline: cost report from the raw runs (+05:30 zone)", () => analytics.GetCostsAsync(new CostFilter(), kolkata, CancellationToken.None)),
        .. queries,
    ];
    var baseline = 0.0;
    var worst = 0.0;
    foreach (var (name, run) in queries)
    {
        await run(); // warm-up: plan cache, page cache
        var times = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await run();
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(times);
        var p95 = times[(int)Math.Ceiling(0.95 * iterations) - 1];
        if (name.StartsWith("baseline", StringComparison.Ordinal))
        {
            baseline = baseline == 0 ? times[iterations / 2] : baseline;
        }
        else
        {
            worst = Math.Max(worst, p95);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-58} p50 {times[iterations / 2],8:0.0} ms   p95 {p95,8:0.0} ms   p95/baseline {p95 / baseline,6:0.000}"));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"worst p95 {worst:0.0} ms = {worst / baseline:0.000} × the baseline pass over all runs (target <= 200 ms): {(worst <= 200 ? "met" : "MISSED")}"));
    return worst <= 200 ? 0 : 1;
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    folder.Delete(recursive: true);
}

int Argument(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static async Task SeedAsync(IDbContextFactory<StewardDbContext> contexts, int runCount, DateTime end)
{
    string[] agents = ["market_analyst", "tech_advisor", "general_assistant"];
    string[] models = ["gpt-4o-mini", "gpt-4o", "llama3.1", "smollm2-360m"];
    string[] words = ["inflation", "rates", "kubernetes", "latency", "budget", "pricing", "story", "retries"];
    var random = new Random(7);
    const int RunsPerSession = 5;
    const int Batch = 2_000;
    for (var start = 0; start < runCount / RunsPerSession; start += Batch)
    {
        await using var db = await contexts.CreateDbContextAsync();
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        for (var s = start; s < Math.Min(start + Batch, runCount / RunsPerSession); s++)
        {
            var agent = agents[s % agents.Length];
            var began = end.AddMinutes(-random.Next(90 * 24 * 60));
            var session = new SessionRecord
            {
                Id = Guid.CreateVersion7(new DateTimeOffset(began)), Title = $"{words[s % words.Length]} question {s}", PresetName = agent,
                CreatedAt = began, UpdatedAt = began.AddMinutes(RunsPerSession),
            };
            for (var r = 0; r < RunsPerSession; r++)
            {
                var input = random.Next(50, 4_000);
                var output = random.Next(20, 1_500);
                var run = new RunRecord
                {
                    Id = Guid.CreateVersion7(new DateTimeOffset(began.AddMinutes(r))), SessionId = session.Id, PresetName = agent, PresetVersion = "v1",
                    Provider = "bench", Model = models[random.Next(models.Length)], Query = $"{words[random.Next(words.Length)]} {s * RunsPerSession + r}",
                    Status = random.Next(20) == 0 ? "Failed" : "Completed", StartedAt = began.AddMinutes(r), EndedAt = began.AddMinutes(r).AddSeconds(3),
                    DurationMs = random.Next(200, 12_000), TimeToFirstTokenMs = random.Next(50, 900), InputTokens = input, CachedInputTokens = input / 4,
                    OutputTokens = output, ReasoningTokens = output / 10, CostNanoUsd = random.Next(10) == 0 ? null : (input + 4L * output) * 1_000, Owner = "bench",
                };
                session.Runs.Add(run);
                if (r % 2 == 0)
                {
                    db.Add(new EvaluationRecord
                    {
                        RunId = run.Id, PresetName = agent, EvaluatedAt = run.StartedAt.AddSeconds(4), Score = random.Next(30, 100), Passed = random.Next(4) > 0,
                        PassThreshold = 70, DurationMs = 5,
                    });
                }
            }

            db.Add(session);
        }

        await db.SaveChangesAsync();
    }
}
