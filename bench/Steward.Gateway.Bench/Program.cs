using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward;
using Steward.Gateway.Bench;
using Steward.Keys;
using Steward.Storage;

// Steward's OpenAI-compatible gateway against Portkey's open-source gateway (npm @portkey-ai/gateway, started here), both
// in front of the same instant local upstream, at 1, 64 and 256 concurrent requests; the upstream called directly is the
// baseline each gateway's added latency is measured against. Steward runs as users run it (its own process, the Release
// build) with budgets (a global one and the key's own), costs (a priced model), tracing and storage on.
// Usage: npm ci --prefix bench/portkey-gateway, then
//   dotnet run -c Release --project bench/Steward.Gateway.Bench [-- --seconds 5 --warmup 2 --rounds 3 --concurrency 1,64,256 --targets direct,portkey,steward]
//   [--database FILE]: Steward stores into FILE (created if missing, kept afterwards), so a run can start from a store that
//   already holds many runs and show how the gateway's speed depends on what is stored.
//   --writer-growth N: no gateways; the run writer alone stores N gateway-shaped runs and prints its time per run at
//   every 10,000 stored (--step), 64 writes in flight (--writes).
//   --prewarm S (default 20): before the measured rounds each gateway serves S seconds at every concurrency, unmeasured,
//   so round 1 meets a warmed process on both sides (the .NET JIT's tiers and Node's alike), not a just-started one. 5 s
//   was not enough on two shared cores: Steward's CPU per request at 1 in flight still fell from 1.4-1.7 ms in round 1 to
//   0.6-0.7 ms by round 4 or 5 (the runtime was still compiling hot methods at their optimised tier 35 s after start), so
//   the median compared a half-compiled Steward; with 25 s its rounds held at 0.68-0.80 ms from the first.
//   --variant NAME=[DLL][,ENV=VALUE...] (repeatable): one more Steward, "steward-NAME", started from DLL (another build's
//   Steward.Web.dll; empty: this build) with the given environment (e.g. DOTNET_TieredPGO=0) and a database of its own,
//   measured interleaved with the others: an A/B comparison in one run on a shared machine.
// Targets: Steward's throughput >= 2x Portkey's at every concurrency, and its added p50 <= 1 ms at 1.
var seconds = Argument("--seconds", 5);
var warmUp = Argument("--warmup", 2);
var rounds = Argument("--rounds", 3);
var only = Option("--targets")?.Split(',') ?? ["direct", "portkey", "steward"];
var levels = (Option("--concurrency") ?? "1,64,256").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
var prewarm = Argument("--prewarm", 20);
var variants = args.Select((a, i) => (a, i)).Where(x => x.a == "--variant" && x.i + 1 < args.Length).Select(x => Variant.Parse(args[x.i + 1])).ToArray();

if (Option("--writer-growth") is { } growth)
{
    var scratch = Directory.CreateTempSubdirectory("steward-writer-growth-");
    try
    {
        await using var services = Engine(new Dictionary<string, string>
        {
            ["Steward:Storage:Database"] = Option("--database") is { } file ? Path.GetFullPath(file) : Path.Combine(scratch.FullName, "steward.db"),
            ["Steward:Agents:Directory"] = scratch.FullName,
            // Writes in flight, not a delay, decide the batches here: the figure is the store's cost per run as it grows.
            ["Steward:Storage:WriteBehindDelay"] = "00:00:00",
        });
        await WriterGrowth.RunAsync(services, int.Parse(growth, CultureInfo.InvariantCulture), Argument("--step", 10_000), Argument("--writes", 64));
        return 0;
    }
    finally
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        scratch.Delete(recursive: true);
    }
}

var root = FindRoot() ?? throw new InvalidOperationException("Run from inside the Steward checkout (Steward.slnx not found).");
var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
var stewardDll = Path.Combine(root, "src", "Steward.Web", "bin", configuration, "net10.0", "Steward.Web.dll");
var portkeyServer = Path.Combine(root, "bench", "portkey-gateway", "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
if (!File.Exists(portkeyServer))
{
    Console.Error.WriteLine("Portkey's gateway is not installed: run `npm ci --prefix bench/portkey-gateway` first.");
    return 2;
}

if (configuration == "Debug")
{
    Console.Error.WriteLine("warning: a Debug build; run with -c Release for figures worth reporting.");
}

var folder = Directory.CreateTempSubdirectory("steward-gateway-bench-");
var database = Option("--database") is { } kept ? Path.GetFullPath(kept) : Path.Combine(folder.FullName, "steward.db");
await using var upstream = await InstantUpstream.StartAsync();
const string UpstreamKey = "sk-upstream-bench";
try
{
    var settings = new Dictionary<string, string>
    {
        ["Steward:Storage:Database"] = database,
        ["Steward:Agents:Directory"] = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName,
        ["Steward:LocalModels:ModelsDirectory"] = Path.Combine(folder.FullName, "models"),
        ["Steward:DefaultProvider"] = "up",
        ["Steward:Providers:up:Kind"] = "openai-compatible",
        ["Steward:Providers:up:Endpoint"] = upstream.Url,
        ["Steward:Providers:up:ApiKey"] = UpstreamKey,
        ["Steward:Providers:up:Model"] = "gpt-4o-mini",
        ["Steward:Providers:up:MaxRetries"] = "0",
        ["Steward:Budgets:Policies:0:Id"] = "global-monthly",
        ["Steward:Budgets:Policies:0:Scope"] = "Global",
        ["Steward:Budgets:Policies:0:Period"] = "Monthly",
        ["Steward:Budgets:Policies:0:MaxUsd"] = "1000000",
        ["Steward:Telemetry:Enabled"] = "true",
    };
    var key = await CreateKeyAsync(settings);

    var environment = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
    environment["ASPNETCORE_ENVIRONMENT"] = "Production";
    environment["Logging__LogLevel__Default"] = "Warning";
    await using var steward = await GatewayProcess.StartAsync("dotnet", [stewardDll, "--urls", "http://127.0.0.1:{port}"], environment, "/healthz");
    await using var portkey = await GatewayProcess.StartAsync("node", [portkeyServer, "--port={port}", "--headless"],
        new Dictionary<string, string> { ["NODE_ENV"] = "production" }, "/", Path.GetDirectoryName(portkeyServer));
    var processes = new Dictionary<string, GatewayProcess> { ["steward"] = steward, ["portkey"] = portkey };
    var keys = new Dictionary<string, string> { ["steward"] = key };
    await using var started = new AsyncDisposables();
    foreach (var variant in variants)
    {
        // A store of its own: the variants' write-behind queues must not meet in one SQLite file.
        var own = new Dictionary<string, string>(settings)
        {
            ["Steward:Storage:Database"] = Path.Combine(Directory.CreateDirectory(Path.Combine(folder.FullName, variant.Name)).FullName, "steward.db"),
        };
        keys[variant.Target] = await CreateKeyAsync(own);
        var variantEnvironment = new Dictionary<string, string>(environment) { ["Steward__Storage__Database"] = own["Steward:Storage:Database"] };
        foreach (var (name, value) in variant.Environment)
        {
            variantEnvironment[name] = value;
        }

        processes[variant.Target] = started.Add(await GatewayProcess.StartAsync("dotnet", [variant.Dll ?? stewardDll, "--urls", "http://127.0.0.1:{port}"], variantEnvironment, "/healthz"));
    }

    Console.Error.WriteLine(string.Join(", ", processes.Select(p => $"{p.Key} pid {p.Value.ProcessId}")));
    const string Messages = """[{"role":"user","content":"Say hello."}]""";
    Target StewardTarget(string name) => new(name, processes[name].BaseUrl + "/v1/chat/completions", $$"""{"model":"up/gpt-4o-mini","messages":{{Messages}},"max_tokens":16}""",
        new Dictionary<string, string> { ["Authorization"] = "Bearer " + keys[name] });
    var targets = new[]
    {
        new Target("direct", upstream.Url + "/chat/completions", $$"""{"model":"gpt-4o-mini","messages":{{Messages}},"max_tokens":16}""",
            new Dictionary<string, string> { ["Authorization"] = "Bearer " + UpstreamKey }),
        new Target("portkey", portkey.BaseUrl + "/v1/chat/completions", $$"""{"model":"gpt-4o-mini","messages":{{Messages}},"max_tokens":16}""",
            new Dictionary<string, string> { ["Authorization"] = "Bearer " + UpstreamKey, ["x-portkey-provider"] = "openai", ["x-portkey-custom-host"] = upstream.Url }),
        StewardTarget("steward"),
    };

    targets = [.. targets.Where(t => only.Contains(t.Name)), .. variants.Select(v => StewardTarget(v.Target))];
    using var http = LoadRun.Client();
    if (prewarm > 0)
    {
        foreach (var concurrency in levels)
        {
            foreach (var target in targets.Where(t => t.Name != "direct"))
            {
                var warm = await LoadRun.RunAsync(http, target, concurrency, TimeSpan.Zero, TimeSpan.FromSeconds(prewarm));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"prewarm c={concurrency,3} {target.Name,-8} {warm.Throughput,8:0} req/s  p50 {warm.P50,7:0.000} ms  (not counted)"));
            }
        }
    }

    var results = new Dictionary<(string Target, int Concurrency), List<LoadResult>>();
    // Each process's CPU from here on: the measured runs with their warm-ups, and whatever it does behind them.
    var cpuAtStart = processes.ToDictionary(p => p.Key, p => p.Value.CpuTime);
    for (var round = 0; round < rounds; round++)
    {
        foreach (var concurrency in levels)
        {
            // The order rotates each round, so a slow moment of this shared machine does not always hit the same target.
            foreach (var target in targets.Skip(round % targets.Length).Concat(targets.Take(round % targets.Length)))
            {
                // What the round cost the gateway per answer, the share of a core it got, and how busy the whole machine was:
                // a round slower at the same CPU per answer was crowded out (by other work on the machine), one slower at a
                // higher CPU per answer did more work (collections, checkpoints, a store that grew).
                var gateway = processes.GetValueOrDefault(target.Name);
                var (cpuBefore, machineBefore, wall) = (gateway?.CpuTime ?? TimeSpan.Zero, MachineTicks.Read(), System.Diagnostics.Stopwatch.StartNew());
                var result = await LoadRun.RunAsync(http, target, concurrency, TimeSpan.FromSeconds(warmUp), TimeSpan.FromSeconds(seconds));
                var (roundCpu, machine) = ((gateway?.CpuTime ?? TimeSpan.Zero) - cpuBefore, MachineTicks.Read() - machineBefore);
                (results.TryGetValue((target.Name, concurrency), out var list) ? list : results[(target.Name, concurrency)] = []).Add(result);
                var perAnswer = gateway is null || result.Answered == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
                    $"  cpu/req {roundCpu.TotalMilliseconds / result.Answered,6:0.000} ms  gateway {roundCpu.TotalSeconds / wall.Elapsed.TotalSeconds * 100,4:0}% of a core");
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round + 1} c={concurrency,3} {target.Name,-8} {result.Throughput,8:0} req/s  p50 {result.P50,7:0.000} ms  mean {result.Mean,7:0.000} ms  p99 {result.P99,7:0.000} ms  slowest 5% {result.SlowestShare,4:0%} of the time  failed {result.Failed}{perAnswer}  machine busy {machine.BusyPercent,3:0}%"));
            }
        }
    }

    var cpu = processes.ToDictionary(p => p.Key, p => p.Value.CpuTime - cpuAtStart[p.Key]);
    // What a setting that trades memory for speed (the GC's, above all) costs shows here.
    Console.Error.WriteLine("Peak resident memory: " + string.Join(", ", processes.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value.PeakWorkingSet / (1024.0 * 1024):0} MiB"))));
    var stewardCpu = cpu["steward"];
    var portkeyCpu = cpu["portkey"];

    LoadResult Median(string target, int concurrency)
    {
        var list = results[(target, concurrency)];
        double M(Func<LoadResult, double> f)
        {
            var sorted = list.Select(f).Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }

        return new LoadResult(M(r => r.Throughput), M(r => r.P50), M(r => r.Mean), M(r => r.P99), list.Sum(r => r.Completed), list.Sum(r => r.Failed), list.Sum(r => r.Answered),
            M(r => r.SlowestShare));
    }

    Console.WriteLine();
    Console.WriteLine($"Median of {rounds} round(s), {seconds} s each after {warmUp} s warm-up, all after a {prewarm} s prewarm per gateway and concurrency; {Environment.ProcessorCount} cores shared by the load generator, the upstream and the gateway.");
    Console.WriteLine("| concurrent | direct req/s | Portkey req/s | Steward req/s | Steward / Portkey | direct p50 / p99 ms | Portkey added p50 / p99 ms | Steward added p50 / p99 ms |");
    Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    var met = true;
    var complete = new[] { "direct", "portkey", "steward" }.All(name => targets.Any(t => t.Name == name));
    foreach (var concurrency in levels.Where(_ => complete))
    {
        var (d, p, s) = (Median("direct", concurrency), Median("portkey", concurrency), Median("steward", concurrency));
        var ratio = s.Throughput / p.Throughput;
        met &= ratio >= 2 && s.Failed == 0 && (concurrency != 1 || s.P50 - d.P50 <= 1.0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {concurrency} | {d.Throughput:0} | {p.Throughput:0} | {s.Throughput:0} | {ratio:0.00}x | {d.P50:0.000} / {d.P99:0.000} | {p.P50 - d.P50:0.000} / {p.P99 - d.P99:0.000} | {s.P50 - d.P50:0.000} / {s.P99 - d.P99:0.000} |"));
    }

    if (complete && levels.Contains(1))
    {
        // One in flight, throughput is the inverse of the mean, and the mean is set by the tail as much as by the p50.
        var (p, s) = (Median("portkey", 1), Median("steward", 1));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"At 1 in flight the slowest 5% of requests took {s.SlowestShare:0%} of Steward's measured time (mean {s.Mean:0.000} ms, p50 {s.P50:0.000}) and {p.SlowestShare:0%} of Portkey's (mean {p.Mean:0.000} ms, p50 {p.P50:0.000})."));
    }

    // Runs are written behind the answers: wait until the count stops moving.
    var stored = await CountStoredAsync(settings);
    for (var previous = -1L; stored.Runs != previous; await Task.Delay(500))
    {
        previous = stored.Runs;
        stored = await CountStoredAsync(settings);
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Steward stored {stored.Runs:N0} gateway runs with {stored.Calls:N0} model calls costing ${stored.CostUsd:0.######} (all priced: {stored.Unpriced == 0}); key budget and a global budget checked on each."));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"CPU used over all runs: Steward {stewardCpu.TotalSeconds:0.0} s, Portkey {portkeyCpu.TotalSeconds:0.0} s."));
    // Per answer over the measured rounds (their warm-ups included, the prewarm not; Steward's write-behind storage
    // included): the figure a busy shared machine disturbs least, since throughput and latency there depend on what else
    // runs, and CPU per request mostly does not.
    var answered = results.GroupBy(r => r.Key.Target).ToDictionary(g => g.Key, g => g.SelectMany(r => r.Value).Sum(r => r.Answered));
    if (answered.GetValueOrDefault("steward") > 0 && answered.GetValueOrDefault("portkey") > 0)
    {
        var stewardPer = stewardCpu.TotalMilliseconds / answered["steward"];
        var portkeyPer = portkeyCpu.TotalMilliseconds / answered["portkey"];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"CPU per request: Steward {stewardPer:0.000} ms, Portkey {portkeyPer:0.000} ms (Steward uses {stewardPer / portkeyPer:0.00}x Portkey's)."));
    }
    foreach (var variant in variants)
    {
        // Against this build's Steward, measured in the same rounds.
        Console.WriteLine();
        Console.WriteLine($"| concurrent | steward req/s | {variant.Target} req/s | ratio | steward p50 ms | {variant.Target} p50 ms |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var concurrency in levels.Where(_ => targets.Any(t => t.Name == "steward")))
        {
            var (a, b) = (Median("steward", concurrency), Median(variant.Target, concurrency));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {concurrency} | {a.Throughput:0} | {b.Throughput:0} | {b.Throughput / a.Throughput:0.00}x | {a.P50:0.000} | {b.P50:0.000} |"));
        }

        if (answered.GetValueOrDefault(variant.Target) > 0 && answered.GetValueOrDefault("steward") > 0)
        {
            var (a, b) = (cpu["steward"].TotalMilliseconds / answered["steward"], cpu[variant.Target].TotalMilliseconds / answered[variant.Target]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CPU per request: steward {a:0.000} ms, {variant.Target} {b:0.000} ms ({b / a:0.00}x)."));
        }
    }

    met &= complete;
    Console.WriteLine($"Targets (throughput >= 2x Portkey at every level, added p50 <= 1 ms at 1, no failures): {(met ? "met" : complete ? "MISSED" : "not judged: a target was left out")}");
    return met ? 0 : 1;
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    try
    {
        folder.Delete(recursive: true);
    }
    catch (IOException)
    {
    }
}

static async Task<string> CreateKeyAsync(Dictionary<string, string> settings)
{
    await using var services = Engine(settings);
    await services.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
    var (_, secret) = await services.GetRequiredService<ApiKeyStore>().CreateAsync(
        new ApiKeySpec { Name = "bench", BudgetUsd = 1_000_000m, BudgetPeriod = Steward.Budgets.BudgetPeriod.Daily }, CancellationToken.None);
    return secret;
}

static async Task<(long Runs, long Calls, decimal CostUsd, long Unpriced)> CountStoredAsync(Dictionary<string, string> settings)
{
    await using var services = Engine(settings);
    await using var db = await services.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync();
    var runs = await db.Runs.CountAsync(r => r.Purpose == "gateway");
    var calls = await db.ModelCalls.CountAsync(c => c.Purpose == "gateway");
    var nano = await db.Runs.SumAsync(r => r.CostNanoUsd ?? 0);
    var unpriced = await db.Runs.CountAsync(r => r.CostNanoUsd == null);
    return (runs, calls, nano / 1_000_000_000m, unpriced);
}

static ServiceProvider Engine(Dictionary<string, string> settings)
{
    var services = new ServiceCollection();
    services.AddStewardEngine(new ConfigurationBuilder().AddInMemoryCollection(settings!).Build());
    return services.BuildServiceProvider();
}

static string? FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
        {
            return dir.FullName;
        }
    }

    return null;
}

int Argument(string name, int fallback) => Option(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

/// <summary>A further Steward measured beside this build's: its name, its Steward.Web.dll (null: this build's) and extra environment.</summary>
internal sealed record Variant(string Name, string? Dll, IReadOnlyList<(string Name, string Value)> Environment)
{
    public string Target => "steward-" + Name;

    /// <summary>Reads <c>NAME=[DLL][,ENV=VALUE...]</c>.</summary>
    public static Variant Parse(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new ArgumentException($"--variant {text}: expected NAME=[DLL][,ENV=VALUE...].");
        }

        var parts = text[(equals + 1)..].Split(',');
        var environment = parts.Skip(1).Select(p => p.Split('=', 2)).Select(p => p.Length == 2 ? (p[0], p[1]) : throw new ArgumentException($"--variant {text}: '{p[0]}' is not ENV=VALUE.")).ToArray();
        return new Variant(text[..equals], parts[0].Length == 0 ? null : Path.GetFullPath(parts[0]), environment);
    }
}

/// <summary>Processes started as the bench goes, disposed together at its end.</summary>
internal sealed class AsyncDisposables : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _items = [];

    public T Add<T>(T item) where T : IAsyncDisposable
    {
        _items.Add(item);
        return item;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in _items)
        {
            await item.DisposeAsync();
        }
    }
}
