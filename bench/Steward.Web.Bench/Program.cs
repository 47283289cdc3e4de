using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward;
using Steward.Costs;
using Steward.Storage;
using Steward.Analytics;
using Steward.Sessions;
using Steward.Web.Hosting;

// Stores 100,000 runs (20,000 sessions, three agents, four models, 90 days, half of them scored) in a fresh database,
// then times the Analytics and History pages' data queries. Usage: dotnet run -c Release --project
// bench/Steward.Web.Bench [-- --runs N --iterations N --db CONNECTION --time-zone IANA-ID]. SQLite in a temporary folder by default;
// --db Host=…;Database=… uses that PostgreSQL database, --db FILE that SQLite file. A database that already holds
// exactly the sessions and runs a seed of --runs N makes is reused as it is (migrated to the current model), since
// seeding a million runs takes many minutes: run once with --db on a kept file or database, then again to measure.
// Prints p50/p95 per query, and each p95 as a ratio of the baseline (one pass over all runs, timed in the same run); the
// target is p95 <= 200 ms.
var runCount = Argument("--runs", 100_000);
var iterations = Argument("--iterations", 30);
var dbIndex = Array.IndexOf(args, "--db");
var database = dbIndex >= 0 && dbIndex + 1 < args.Length ? args[dbIndex + 1] : null;
// Reports' days begin in the configured zone; UTC days are served whole by the daily rollups, others by the hourly ones.
var zoneIndex = Array.IndexOf(args, "--time-zone");
var timeZone = zoneIndex >= 0 && zoneIndex + 1 < args.Length ? args[zoneIndex + 1] : "UTC";
var folder = Directory.CreateTempSubdirectory("steward-web-bench-");
try
{
    var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Steward:Storage:Database"] = database ?? Path.Combine(folder.FullName, "bench.db"),
        ["Steward:Agents:Directory"] = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName,
        ["Steward:Reports:TimeZone"] = timeZone,
    }).Build();
    var services = new ServiceCollection();
    services.AddStewardEngine(configuration);
    services.AddStewardQueries();
    await using var provider = services.BuildServiceProvider();
    await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);

    var seeding = Stopwatch.StartNew();
    var end = new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc);
    var postgres = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<StorageOptions>>().Value.Provider == StorageProvider.Postgres;
    var seeded = await IsSeededAsync(provider.GetRequiredService<IDbContextFactory<StewardDbContext>>(), runCount);
    if (!seeded)
    {
        await SeedAsync(provider.GetRequiredService<IDbContextFactory<StewardDbContext>>(), runCount, end, postgres);
    }

    await SeedMetadataAsync(provider.GetRequiredService<IDbContextFactory<StewardDbContext>>(), postgres);

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{(postgres ? "PostgreSQL" : "SQLite")}: {(seeded ? "reused" : "seeded")} {runCount:N0} runs in {runCount / 5:N0} sessions in {seeding.Elapsed.TotalSeconds:0.0} s; report days in {timeZone}"));
    await using (var db = await provider.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync())
    {
        // Both providers plan from statistics: gather them once the rows are in, as autovacuum would shortly after a
        // bulk load on PostgreSQL and Steward's next start (PRAGMA optimize) would on SQLite.
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(30));
        // On PostgreSQL autovacuum also vacuums a table after many inserts: that merges the trigram indexes' pending
        // entries and marks pages all-visible, which the index-only reads of History's counts depend on.
        await db.Database.ExecuteSqlRawAsync(postgres ? "VACUUM ANALYZE" : "ANALYZE");
    }

    var analytics = provider.GetRequiredService<AnalyticsQueries>();
    var search = provider.GetRequiredService<SessionSearch>();
    var last30 = new DateTimeOffset(end.AddDays(-30));
    var keys = provider.GetRequiredService<Steward.Keys.ApiKeys>();
    var budgets = provider.GetRequiredService<Steward.Budgets.BudgetStatusReader>();
    // What the Analytics page reads for one filter (Analytics.razor.cs LoadAsync, and its key usage panel), in its order.
    async Task PageAsync(CostFilter filter)
    {
        _ = await analytics.GetAsync(filter, CancellationToken.None);
        _ = await budgets.ReadAsync(CancellationToken.None);
        _ = await keys.GetUsageAsync(filter, CancellationToken.None);
    }

    var user = new CostFilter { UserId = "user-7" };
    var tag = new CostFilter { Tag = "billing" };
    var tagAgent = tag with { Agent = "tech_advisor", From = last30 };
    (string Name, Func<Task> Run)[] queries =
    [
        ("analytics page: all runs", () => PageAsync(new CostFilter())),
        ("analytics page: one agent, last 30 days", () => PageAsync(new CostFilter { Agent = "market_analyst", From = last30 })),
        ("analytics page: one model", () => PageAsync(new CostFilter { Model = "gpt-4o-mini" })),
        ("analytics page: one user", () => PageAsync(user)),
        ("analytics page: one tag", () => PageAsync(tag)),
        ("analytics page: one tag, one agent, last 30 days", () => PageAsync(tagAgent)),
        ("  of which costs, one tag, one agent, last 30 days", () => analytics.GetCostsAsync(tagAgent, CancellationToken.None)),
        ("  of which latency, one tag, one agent, last 30 days", () => analytics.GetLatencyAsync(tagAgent, CancellationToken.None)),
        ("  of which quality, one tag, one agent, last 30 days", () => analytics.GetQualityTrendAsync(tagAgent, CancellationToken.None)),
        ("  of which statuses, one tag, one agent, last 30 days", () => analytics.GetByStatusAsync(tagAgent, CancellationToken.None)),
        ("  of which first token, one tag, one agent, last 30 days", () => analytics.GetTimeToFirstTokenAsync(tagAgent, CancellationToken.None)),
        ("  of which by user, one tag, one agent, last 30 days", () => analytics.GetCostByUserAsync(tagAgent, CancellationToken.None)),
        ("  of which by tag, one tag, one agent, last 30 days", () => analytics.GetCostByTagAsync(tagAgent, CancellationToken.None)),
        ("  of which key usage, one tag, one agent, last 30 days", () => keys.GetUsageAsync(tagAgent, CancellationToken.None)),
        ("  of which budget status", () => budgets.ReadAsync(CancellationToken.None)),
        ("  of which latency, one user", () => analytics.GetLatencyAsync(user, CancellationToken.None)),
        ("  of which quality, one user", () => analytics.GetQualityTrendAsync(user, CancellationToken.None)),
        ("  of which statuses, one user", () => analytics.GetByStatusAsync(user, CancellationToken.None)),
        ("  of which by user, one user", () => analytics.GetCostByUserAsync(user, CancellationToken.None)),
        ("  of which key usage, one user", () => keys.GetUsageAsync(user, CancellationToken.None)),
        ("  of which runs by status and ratings", () => analytics.GetByStatusAsync(new CostFilter(), CancellationToken.None)),
        ("  of which time to first token", () => analytics.GetTimeToFirstTokenAsync(new CostFilter(), CancellationToken.None)),
        ("  of which cost by user", () => analytics.GetCostByUserAsync(new CostFilter(), CancellationToken.None)),
        ("  of which cost by tag", () => analytics.GetCostByTagAsync(new CostFilter(), CancellationToken.None)),
        ("  of which cost by user, one tag (pairs of facets)", () => analytics.GetCostByUserAsync(tag, CancellationToken.None)),
        ("  of which costs, one user", () => analytics.GetCostsAsync(user, CancellationToken.None)),
        ("  of which time to first token, one user", () => analytics.GetTimeToFirstTokenAsync(user, CancellationToken.None)),
        ("  of which cost by tag, one user (pairs of facets)", () => analytics.GetCostByTagAsync(user, CancellationToken.None)),
        ("  of which latency, one tag", () => analytics.GetLatencyAsync(tag, CancellationToken.None)),
        ("  of which quality, one tag", () => analytics.GetQualityTrendAsync(tag, CancellationToken.None)),
        ("  of which costs (rollups)", () => analytics.GetCostsAsync(new CostFilter(), CancellationToken.None)),
        ("  of which judge costs", () => provider.GetRequiredService<CostReports>().GetJudgesByDayAsync(new CostFilter(), null, CancellationToken.None)),
        ("  of which latency percentiles", () => analytics.GetLatencyAsync(new CostFilter(), CancellationToken.None)),
        ("  of which quality trend", () => analytics.GetQualityTrendAsync(new CostFilter(), CancellationToken.None)),
        ("  of which filter choices", () => analytics.GetFilterChoicesAsync(CancellationToken.None)),
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

    // A half-hour zone's days begin inside a UTC hour: that hour a day comes from the runs, the rest from the hourly rollups
    // (`--time-zone Asia/Kolkata` times every page so).
    var kolkata = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
    queries =
    [
        ("baseline: one pass over all runs", ScanAsync),
        .. queries,
        ("analytics costs, all runs, days in Asia/Kolkata (+05:30)", () => analytics.GetCostsAsync(new CostFilter(), kolkata, CancellationToken.None)),
        ("analytics costs, one user, days in Asia/Kolkata (+05:30)", () => analytics.GetCostsAsync(new CostFilter { UserId = "user-7" }, kolkata, CancellationToken.None)),
    ];
    var baseline = 0.0;
    var worst = 0.0;
    foreach (var (name, run) in queries)
    {
        await run(); // warm-up: plan cache, page cache
        // The baselines scan every run (the raw cost report takes tens of seconds on a million SQLite runs): a few passes
        // give their median, which is all the ratios use.
        var count = name.StartsWith("baseline", StringComparison.Ordinal) ? Math.Min(iterations, 3) : iterations;
        var times = new double[count];
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await run();
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(times);
        var p95 = times[(int)Math.Ceiling(0.95 * count) - 1];
        if (name.StartsWith("baseline", StringComparison.Ordinal))
        {
            baseline = baseline == 0 ? times[count / 2] : baseline;
        }
        else
        {
            worst = Math.Max(worst, p95);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-58} p50 {times[count / 2],8:0.0} ms   p95 {p95,8:0.0} ms   p95/baseline {p95 / baseline,6:0.000}"));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"worst p95 {worst:0.0} ms = {worst / baseline:0.000} × the baseline pass over all runs (target <= 200 ms): {(worst <= 200 ? "met" : "MISSED")}"));
    return worst <= 200 ? 0 : 1;
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    if (!args.Contains("--keep"))
    {
        folder.Delete(recursive: true);
    }
}

int Argument(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

// A database already holding exactly what a seed of this size makes (the runs and their sessions) is measured as it is.
static async Task<bool> IsSeededAsync(IDbContextFactory<StewardDbContext> contexts, int runCount)
{
    await using var db = await contexts.CreateDbContextAsync();
    db.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
    var runs = await db.Runs.LongCountAsync();
    if (runs == 0)
    {
        return false;
    }

    var sessions = await db.Sessions.LongCountAsync();
    return runs == runCount && sessions == Math.Max(1, runCount / 5)
        ? true
        : throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
            $"The database holds {runs:N0} runs in {sessions:N0} sessions, not the {runCount:N0} runs a seed of --runs {runCount} makes: pass an empty database or the matching --runs."));
}

// The rows are generated by the database itself (INSERT … SELECT over a series), through the same triggers every write
// takes (rollups, session summaries, the text index): a million runs through EF Core would take most of an hour here.
// Values are spread by multiplicative hashing of the row number, the same on both providers. Users, tags and ratings are
// stored with the runs (as SeedMetadataAsync adds them to an older seed), so no run is written twice.
static async Task SeedAsync(IDbContextFactory<StewardDbContext> contexts, int runCount, DateTime end, bool postgres)
{
    const int RunsPerSession = 5;
    const int Batch = 10_000;
    var endEpoch = new DateTimeOffset(end).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    string Pick(string[] values, string index) => postgres
        ? $"(ARRAY[{string.Join(", ", values.Select(v => $"'{v}'"))}])[({index}) + 1]"
        : $"json_extract('[{string.Join(",", values.Select(v => $"\"{v}\""))}]', '$[' || ({index}) || ']')";
    string Date(string secondsBeforeEnd) => postgres
        ? $"to_timestamp({endEpoch} - ({secondsBeforeEnd}))"
        : $"strftime('%Y-%m-%d %H:%M:%S', {endEpoch} - ({secondsBeforeEnd}), 'unixepoch')";
    string Id(string high, string low, string variant) => postgres
        ? $"(lpad(to_hex({high}), 8, '0') || '-0000-7000-{variant}-' || lpad(to_hex({low}), 12, '0'))::uuid"
        : $"printf('%08X-0000-7000-{variant}-%012X', {high}, {low})";
    string Text(string number) => postgres ? $"({number})::text" : $"({number})";
    string Flag(string condition) => postgres ? $"({condition})" : $"(CASE WHEN {condition} THEN 1 ELSE 0 END)";
    string[] agents = ["market_analyst", "tech_advisor", "general_assistant"];
    string[] models = ["gpt-4o-mini", "gpt-4o", "llama3.1", "smollm2-360m"];
    string[] words = ["inflation", "rates", "kubernetes", "latency", "budget", "pricing", "story", "retries"];
    string[] tags = ["billing", "support", "research", "eval"];
    // Minutes before the end the session began (90 days), and n = the run's number.
    const string Began = "((s * 7919 + 13) % (90 * 24 * 60))";
    const string N = "(s * 5 + r)";
    var sessions = Math.Max(1, runCount / RunsPerSession);
    for (var start = 0; start < sessions; start += Batch)
    {
        var last = Math.Min(start + Batch, sessions) - 1;
        var series = postgres
            ? $"generate_series({start}::bigint, {last}::bigint) AS g(s)"
            : $"(WITH RECURSIVE q(s) AS (SELECT {start} UNION ALL SELECT s + 1 FROM q WHERE s < {last}) SELECT s FROM q) AS g";
        var runs = postgres ? "generate_series(0, 4) AS k(r)" : "(SELECT 0 AS r UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) AS k";
        var input = $"(50 + ({N} * 104729) % 3950)";
        var output = $"(20 + ({N} * 1299709) % 1480)";
        var sql = $"""
            INSERT INTO sessions ("Id", "Title", "PresetName", "CreatedAt", "UpdatedAt")
            SELECT {Id("s", "0", "9000")}, {Pick(words, "s % 8")} || ' question ' || {Text("s")}, {Pick(agents, "s % 3")},
                   {Date(Began + " * 60")}, {Date(Began + " * 60 - 300")}
            FROM {series};
            INSERT INTO runs ("Id", "SessionId", "PresetName", "PresetVersion", "Provider", "Model", "Query", "Status", "StartedAt", "EndedAt", "DurationMs",
                              "TimeToFirstTokenMs", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "CostNanoUsd", "FromCache", "Owner",
                              "Purpose", "UsageEstimated", "UserId")
            SELECT {Id("s", N, "8000")}, {Id("s", "0", "9000")}, {Pick(agents, "s % 3")}, 'v1', 'bench', {Pick(models, $"({N} * 31 + 7) % 4")},
                   {Pick(words, $"({N} * 17 + 3) % 8")} || ' ' || {Text(N)}, CASE WHEN ({N} * 13) % 20 = 0 THEN 'Failed' ELSE 'Completed' END,
                   {Date(Began + " * 60 - r * 60")}, {Date(Began + " * 60 - r * 60 - 3")}, 200 + ({N} * 7717) % 11800, 50 + ({N} * 331) % 850,
                   {input}, {input} / 4, {output}, {output} / 10, CASE WHEN ({N} * 7) % 10 = 0 THEN NULL ELSE ({input} + 4 * {output}) * 1000 END,
                   {Flag("1 = 0")}, 'bench', 'agent', {Flag("1 = 0")}, CASE WHEN {input} % 4 <> 0 THEN 'user-' || {Text($"{input} % 40")} END
            FROM {series} CROSS JOIN {runs};
            INSERT INTO run_tags ("RunId", "Tag")
            SELECT {Id("s", N, "8000")}, {Pick(tags, $"{output} % 4")} FROM {series} CROSS JOIN {runs} WHERE {output} % 3 = 0
            UNION ALL SELECT {Id("s", N, "8000")}, 'prod' FROM {series} CROSS JOIN {runs} WHERE {output} % 6 = 0;
            INSERT INTO run_feedback ("RunId", "Rating", "Source", "GivenAt")
            SELECT {Id("s", N, "8000")}, CASE WHEN {input} % 3 = 0 THEN -1 ELSE 1 END, 'web', {Date(Began + " * 60 - r * 60")}
            FROM {series} CROSS JOIN {runs} WHERE {output} % 10 = 1;
            INSERT INTO evaluations ("RunId", "PresetName", "EvaluatedAt", "Score", "Passed", "PassThreshold", "DurationMs", "JudgeInputTokens",
                                     "JudgeCachedInputTokens", "JudgeOutputTokens", "JudgeReasoningTokens", "JudgeSelfHosted")
            SELECT {Id("s", N, "8000")}, {Pick(agents, "s % 3")}, {Date(Began + " * 60 - r * 60 - 4")}, 30 + ({N} * 37) % 70, {Flag($"({N} * 11) % 4 > 0")},
                   70, 5, 0, 0, 0, 0, {Flag("1 = 0")}
            FROM {series} CROSS JOIN {runs} WHERE r % 2 = 0;
            """;
        await using var db = await contexts.CreateDbContextAsync();
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(30));
        await using var transaction = await db.Database.BeginTransactionAsync();
#pragma warning disable EF1002 // generated from constants and loop counters, no input
        await db.Database.ExecuteSqlRawAsync(sql);
#pragma warning restore EF1002
        await transaction.CommitAsync();
        if ((start / Batch) % 5 == 4)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  seeded {(long)(last + 1) * RunsPerSession:N0} runs"));
        }
    }
}

// Users, tags and ratings on the runs (three in four runs made for one of 40 users; a third of the runs tagged, half of
// those twice; one in ten rated), added once to a database seeded without them (before the seed stored them), through the
// same triggers every write takes: on a million PostgreSQL runs that rewrite took over 20 minutes at load 25, so a new
// seed stores them with the runs instead.
static async Task SeedMetadataAsync(IDbContextFactory<StewardDbContext> contexts, bool postgres)
{
    await using var db = await contexts.CreateDbContextAsync();
    if (await db.RunTags.AnyAsync())
    {
        return;
    }

    db.Database.SetCommandTimeout(TimeSpan.FromMinutes(60));
    var pick = postgres
        ? "(ARRAY['billing', 'support', 'research', 'eval'])[(\"OutputTokens\" % 4) + 1]"
        : "json_extract('[\"billing\",\"support\",\"research\",\"eval\"]', '$[' || (\"OutputTokens\" % 4) || ']')";
    var started = Stopwatch.StartNew();
    await using var transaction = await db.Database.BeginTransactionAsync();
#pragma warning disable EF1002 // constants only
    await db.Database.ExecuteSqlRawAsync("UPDATE runs SET \"UserId\" = 'user-' || (\"InputTokens\" % 40) WHERE \"InputTokens\" % 4 <> 0;");
    await db.Database.ExecuteSqlRawAsync($"INSERT INTO run_tags (\"RunId\", \"Tag\") SELECT \"Id\", {pick} FROM runs WHERE \"OutputTokens\" % 3 = 0;");
    await db.Database.ExecuteSqlRawAsync("INSERT INTO run_tags (\"RunId\", \"Tag\") SELECT \"Id\", 'prod' FROM runs WHERE \"OutputTokens\" % 6 = 0;");
    await db.Database.ExecuteSqlRawAsync("INSERT INTO run_feedback (\"RunId\", \"Rating\", \"Source\", \"GivenAt\") SELECT \"Id\", CASE WHEN \"InputTokens\" % 3 = 0 THEN -1 ELSE 1 END, 'web', \"StartedAt\" FROM runs WHERE \"OutputTokens\" % 10 = 1;");
#pragma warning restore EF1002
    await transaction.CommitAsync();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  added users, tags and ratings in {started.Elapsed.TotalSeconds:0.0} s"));
}
