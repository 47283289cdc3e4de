using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward;
using Steward.Agents;
using Steward.Budgets;
using Steward.Providers;
using Steward.Storage;

// Usage: Steward.LedgerStress DB_PATH AGENTS_DIR COUNT CONCURRENCY START_UNIX_MS [crash]
// Reserves and settles COUNT worst-case requests (CONCURRENCY at a time) against the budgets configured in the
// environment (Steward__Budgets__…), and prints {"granted":N,"refused":N,"false_refusals":N} on one line.
// With "crash" it reserves COUNT requests, prints {"reserved":N} and dies at once: nothing is settled, released or
// handed back, as when a process is killed mid-run.
var (db, agents, count, concurrency) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
var configuration = new ConfigurationBuilder()
    .AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Steward:Storage:Database"] = db,
        ["Steward:Agents:Directory"] = agents,
        ["Steward:Budgets:DefaultMaxOutputTokens"] = "50",
        ["Steward:DefaultProvider"] = "fake",
        ["Steward:Providers:fake:Kind"] = "openai-compatible",
        ["Steward:Providers:fake:Endpoint"] = "http://127.0.0.1:9/v1",
        ["Steward:Providers:fake:Model"] = "fake-model",
    })
    .AddEnvironmentVariables()
    .Build();
var services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
await using (services.ConfigureAwait(false))
{
    await services.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None).ConfigureAwait(false);
    var gate = services.GetRequiredService<IBudgetGate>();
    var preset = services.GetRequiredService<PresetCatalog>().Get("assistant");
    var provider = services.GetRequiredService<ProviderCatalog>().Resolve(null, null);
    ChatMessage[] prompt = [new ChatMessage(ChatRole.User, "Hi")];
    var input = TokenEstimator.CountPrompt(provider, preset.Instructions, prompt);
    // Processes start at different speeds; all begin at the agreed instant, so they really race.
    var start = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
    if (start > DateTimeOffset.UtcNow)
    {
        await Task.Delay(start - DateTimeOffset.UtcNow).ConfigureAwait(false);
    }

    if (args.Length > 5 && args[5] == "crash")
    {
        for (var i = 0; i < count; i++)
        {
            await gate.ReserveAsync(new BudgetRequest(Guid.NewGuid(), Guid.NewGuid(), preset, provider, prompt, null), CancellationToken.None).ConfigureAwait(false);
        }

        Console.WriteLine(JsonSerializer.Serialize(new { reserved = count }));
        Console.Out.Flush();
        Environment.Exit(0);
    }

    int granted = 0, refused = 0, falseRefusals = 0;
    using var slots = new SemaphoreSlim(concurrency);
    await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
    {
        await slots.WaitAsync().ConfigureAwait(false);
        try
        {
            var reservation = await gate.ReserveAsync(new BudgetRequest(Guid.NewGuid(), Guid.NewGuid(), preset, provider, prompt, null), CancellationToken.None).ConfigureAwait(false);
            await reservation.SettleAsync(new RunUsage(input, 0, 50, 0), RunCost.Unpriced, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref granted);
        }
        catch (BudgetExceededException ex)
        {
            Interlocked.Increment(ref refused);
            if (ex.Spent + ex.Reserved + ex.Needed <= ex.Limit)
            {
                Interlocked.Increment(ref falseRefusals);
            }
        }
        finally
        {
            slots.Release();
        }
    })).ConfigureAwait(false);
    Console.WriteLine(JsonSerializer.Serialize(new { granted, refused, false_refusals = falseRefusals }));
}
