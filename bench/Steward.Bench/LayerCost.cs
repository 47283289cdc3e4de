using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Calls;
using Steward.Providers;

namespace Steward.Bench;

/// <summary>
/// `layers CALLS BLOCKS`: what the governed-call layers cost one model call, on one thread with nothing else running: the same
/// client pipeline with and without them, each call in a scope like a run's (a new session each), committed after it.
/// CPU is the whole process's (the budget ledger's writer included), so the figure is what the layers take from the
/// cores; blocks alternate so drift hits both alike. Deterministic enough to compare one change of the layers with the
/// next, which the end-to-end benchmark's noise cannot.
/// </summary>
internal static class LayerCost
{
    public static async Task RunAsync(Func<string, bool, Task<ServiceProvider>> build, string[] args)
    {
        var calls = args is [var n, ..] ? int.Parse(n, CultureInfo.InvariantCulture) : 20_000;
        var blocks = args is [_, var b, ..] ? int.Parse(b, CultureInfo.InvariantCulture) : 10;
        await using var full = await build("layers-full", true);
        await using var bare = await build("layers-base", false);
        var settings = new[] { (Name: "base", Provider: bare), (Name: "full", Provider: full) };
        var clients = settings.ToDictionary(s => s.Name, s => Client(s.Provider));
        var cpu = settings.ToDictionary(s => s.Name, _ => new List<double>());
        var allocated = settings.ToDictionary(s => s.Name, _ => new List<double>());
        // Timed, like the end-to-end benchmark's: the runtime recompiles what runs often, optimised, only after a while.
        var warmUp = double.TryParse(Environment.GetEnvironmentVariable("STEWARD_BENCH_WARMUP_SECONDS"), CultureInfo.InvariantCulture, out var w) ? w : 20;
        var warming = Stopwatch.StartNew();
        do
        {
            foreach (var (name, _) in settings)
            {
                await CallAsync(clients[name], calls / 4);
            }
        }
        while (warming.Elapsed.TotalSeconds < warmUp);

        using var process = Process.GetCurrentProcess();
        for (var block = 0; block < blocks; block++)
        {
            foreach (var (name, provider) in block % 2 == 0 ? settings : settings.Reverse())
            {
                process.Refresh();
                var (cpuBefore, allocBefore) = (process.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true));
                await CallAsync(clients[name], calls);
                // What the calls left the ledger to write is theirs: written now, not during the next block.
                await provider.GetRequiredService<Steward.Budgets.BudgetEscrow>().FlushAsync(returnUnused: false, CancellationToken.None);
                process.Refresh();
                cpu[name].Add((process.TotalProcessorTime - cpuBefore).TotalMicroseconds / calls);
                allocated[name].Add((GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)calls);
            }
        }

        if (Environment.GetEnvironmentVariable("STEWARD_BENCH_ALLOCATIONS") == "1")
        {
            // What the governed call allocates that the bare one does not, by type (sampled: see AllocationSampler).
            using var sampler = new AllocationSampler();
            var byType = new Dictionary<string, Dictionary<string, long>>();
            foreach (var (name, _) in settings)
            {
                sampler.Clear();
                await CallAsync(clients[name], calls * 5);
                byType[name] = sampler.Top(200).ToDictionary(t => t.Type, t => t.Bytes);
            }

            foreach (var type in byType["full"].Keys.Union(byType["base"].Keys)
                .Select(t => (Type: t, Added: byType["full"].GetValueOrDefault(t) - byType["base"].GetValueOrDefault(t)))
                .OrderByDescending(t => Math.Abs(t.Added)).Take(30))
            {
                Console.WriteLine(FormattableString.Invariant($"{type.Added / (calls * 5.0),8:0} B/call  {type.Type}"));
            }
        }

        var added = Enumerable.Range(0, blocks).Select(i => cpu["full"][i] - cpu["base"][i]).ToArray();
        Console.WriteLine(FormattableString.Invariant(
            $"per call, median of {blocks} blocks of {calls}: base cpu {BenchStats.Median(cpu["base"]):0.00} µs, full cpu {BenchStats.Median(cpu["full"]):0.00} µs, added {BenchStats.Median(added):0.00} µs (blocks {string.Join(' ', added.Select(a => a.ToString("0.0", CultureInfo.InvariantCulture)))}); ") +
            FormattableString.Invariant($"base alloc {BenchStats.Median(allocated["base"]):0} B, full alloc {BenchStats.Median(allocated["full"]):0} B"));
    }

    private static (IChatClient Client, AgentPreset Preset) Client(ServiceProvider services)
    {
        var preset = services.GetRequiredService<PresetCatalog>().Get("bench");
        var provider = services.GetRequiredService<ProviderCatalog>().Resolve(preset.Provider, preset.Model);
        return (services.GetRequiredService<ChatClientFactory>().Create(provider), preset);
    }

    private static async Task CallAsync((IChatClient Client, AgentPreset Preset) pipeline, int calls)
    {
        List<ChatMessage> messages = [new(ChatRole.User, "What is the capital of France?")];
        var options = new ChatOptions { Instructions = pipeline.Preset.Instructions };
        for (var i = 0; i < calls; i++)
        {
            var scope = new ModelCallScope(ModelCallPurpose.Agent)
            {
                // Not Guid.CreateVersion7: its read of /dev/urandom per id would add a system call's noise to both settings.
                RunId = UUIDNext.Uuid.NewSequential(), SessionId = UUIDNext.Uuid.NewSequential(), Preset = pipeline.Preset, NewSession = true,
                DefaultMaxOutputTokens = pipeline.Preset.MaxOutputTokens, Reserved = _ => ValueTask.CompletedTask,
            };
            await foreach (var update in pipeline.Client.GetStreamingResponseAsync(messages, scope.ApplyTo(options)).ConfigureAwait(false))
            {
                _ = update;
            }

            await scope.CommitAsync().ConfigureAwait(false);
        }
    }
}
