using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Steward;
using Steward.Agents;
using Steward.Bench;
using Steward.Budgets;
using Steward.Costs;
using Steward.Providers;
using Steward.Storage;

// `tracing` runs the tracing on/off overhead benchmark instead (TracingOverhead.cs).
if (args is ["tracing", .. var tracingArgs]) { await TracingOverhead.RunAsync(tracingArgs); return; }

// What the budget and cost steps add to a run: the same pipeline (real SQLite storage, instant in-process model)
// with the real ledger and pricing, and with both replaced by pass-throughs. Rounds alternate between the two so
// machine noise hits both alike; the figures are medians over rounds.
const int Rounds = 5;
var runsPerRound = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 400;
var folder = Directory.CreateTempSubdirectory("steward-bench-").FullName;
Directory.CreateDirectory(Path.Combine(folder, "agents"));
await File.WriteAllTextAsync(Path.Combine(folder, "agents", "bench.yaml"),
    "name: bench\ndisplay_name: Bench\ninstructions: You answer questions briefly and precisely.\nmax_output_tokens: 256\nbudget:\n  max_tokens_per_session: 100000\n  daily_cost_usd: 1000000\n");

async Task<ServiceProvider> BuildAsync(string name, bool withBudgetAndCost)
{
    var settings = new Dictionary<string, string?>
    {
        ["Steward:Storage:Database"] = Path.Combine(folder, name + ".db"),
        ["Steward:Agents:Directory"] = Path.Combine(folder, "agents"),
        ["Steward:DefaultProvider"] = "openai",
        ["Steward:Providers:openai:Kind"] = "openai",
        ["Steward:Providers:openai:ApiKey"] = "unused",
        ["Steward:Providers:openai:Model"] = "gpt-4o-mini",
        ["Steward:Budgets:Policies:0:Id"] = "global-monthly",
        ["Steward:Budgets:Policies:0:Scope"] = "Global",
        ["Steward:Budgets:Policies:0:Period"] = "Monthly",
        ["Steward:Budgets:Policies:0:MaxUsd"] = "1000000",
        // Tracing has its own benchmark (`-- tracing`); here it would only add noise to both sides.
        ["Steward:Telemetry:Enabled"] = "false",
    };
    var services = new ServiceCollection().AddLogging(b => b.AddProvider(new Steward.Bench.StderrLogger()))
        .AddStewardEngine(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
    services.AddSingleton<IChatClientProvider>(new InstantModel(ProviderKinds.OpenAI));
    if (withBudgetAndCost)
    {
        // The same real gate, timed from outside, to report the steps' own latency next to their end-to-end effect.
        services.AddSingleton<LedgerBudgetGate>();
        services.Replace(ServiceDescriptor.Singleton<IBudgetGate>(sp => new TimedBudgetGate(sp.GetRequiredService<LedgerBudgetGate>())));
    }
    else
    {
        var pass = new PassThroughSteps();
        services.Replace(ServiceDescriptor.Singleton<IBudgetGate>(pass));
        services.Replace(ServiceDescriptor.Singleton<IRunPricer>(pass));
    }

    var provider = services.BuildServiceProvider();
    await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None);
    return provider;
}

Task<double[]> MeasureAsync(AgentRunner runner, int concurrency, int runs) => BenchLoad.RunAsync(runner, concurrency, runs);

static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
static double Median(IEnumerable<double> values) { var a = values.Order().ToArray(); return a[a.Length / 2]; }

await using var full = await BuildAsync("full", withBudgetAndCost: true);
await using var baseline = await BuildAsync("baseline", withBudgetAndCost: false);
var fullRunner = full.GetRequiredService<AgentRunner>();
var baseRunner = baseline.GetRequiredService<AgentRunner>();
Console.WriteLine($"Pipeline overhead of the budget and cost steps: instant in-process model, SQLite, {runsPerRound} runs x {Rounds} rounds per setting, {Environment.ProcessorCount} cores");
var timedGate = (TimedBudgetGate)full.GetRequiredService<IBudgetGate>();
Console.WriteLine($"{"concurrency",11} {"base p50 µs",12} {"full p50 µs",12} {"added p50 µs",13} {"base p99 µs",12} {"full p99 µs",12} {"added p99 µs",13} {"ratio (mean)",13} {"steps p50 µs",13} {"steps p99 µs",13}");
foreach (var concurrency in new[] { 1, 64 })
{
    await MeasureAsync(fullRunner, concurrency, runsPerRound / 2);
    await MeasureAsync(baseRunner, concurrency, runsPerRound / 2);
    timedGate.TakeSorted();
    var rows = new List<(double BaseP50, double FullP50, double BaseP99, double FullP99, double Ratio, double StepP50, double StepP99)>();
    for (var round = 0; round < Rounds; round++)
    {
        var b = await MeasureAsync(baseRunner, concurrency, runsPerRound);
        var f = await MeasureAsync(fullRunner, concurrency, runsPerRound);
        var steps = timedGate.TakeSorted();
        rows.Add((Percentile(b, 0.5), Percentile(f, 0.5), Percentile(b, 0.99), Percentile(f, 0.99), f.Average() / b.Average(),
            Percentile(steps, 0.5), Percentile(steps, 0.99)));
    }

    var (bp50, fp50, bp99, fp99, ratio) = (Median(rows.Select(r => r.BaseP50)), Median(rows.Select(r => r.FullP50)),
        Median(rows.Select(r => r.BaseP99)), Median(rows.Select(r => r.FullP99)), Median(rows.Select(r => r.Ratio)));
    var (sp50, sp99) = (Median(rows.Select(r => r.StepP50)), Median(rows.Select(r => r.StepP99)));
    Console.WriteLine(FormattableString.Invariant(
        $"{concurrency,11} {bp50,12:0} {fp50,12:0} {fp50 - bp50,13:0} {bp99,12:0} {fp99,12:0} {fp99 - bp99,13:0} {ratio,13:0.000} {sp50,13:0} {sp99,13:0}"));
}

Console.WriteLine("added = full - base end to end (at 64 the baseline is saturated on SQLite's single writer, so added work is multiplied by the queue);");
Console.WriteLine("steps = time inside the budget reserve + settle of each run. Targets (issue 4): added p50 <= 200 µs, p99 <= 2000 µs at 64 concurrent.");
Directory.Delete(folder, recursive: true);
