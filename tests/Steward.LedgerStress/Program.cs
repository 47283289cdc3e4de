using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward;
using Steward.Agents;
using Steward.Budgets;
using Steward.Calls;
using Steward.Providers;
using Steward.Storage;

// Usage: Steward.LedgerStress DB_PATH AGENTS_DIR COUNT CONCURRENCY START_UNIX_MS [crash]
// Makes COUNT model calls (CONCURRENCY at a time) through the governed chat client, the same budget and recording
// layers every call of the product goes through, against the budgets configured in the environment
// (Steward__Budgets__…), and prints {"granted":N,"refused":N,"false_refusals":N} on one line. The model answers at once
// with 50 output tokens. With "crash" it starts COUNT calls whose model never answers, prints {"reserved":N} once all
// are reserved, and then waits to be killed: nothing is ever settled, released or handed back.
var (db, agents, count, concurrency) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
var crash = args.Length > 5 && args[5] == "crash";
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
        ["Steward:Telemetry:Enabled"] = "false",
    })
    .AddEnvironmentVariables()
    .Build();
var collection = new ServiceCollection().AddLogging().AddStewardEngine(configuration);
collection.AddSingleton<IChatClientProvider>(new InstantProvider(hang: crash));
var services = collection.BuildServiceProvider();
await using (services.ConfigureAwait(false))
{
    await services.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None).ConfigureAwait(false);
    var preset = services.GetRequiredService<PresetCatalog>().Get("assistant");
    var provider = services.GetRequiredService<ProviderCatalog>().Resolve(null, null);
    using var client = services.GetRequiredService<ChatClientFactory>().Create(provider);
    ChatMessage[] prompt = [new ChatMessage(ChatRole.User, "Hi")];
    // What the preset's agent sends with every call.
    var agentOptions = new ChatOptions { Instructions = preset.Instructions };
    // Processes start at different speeds; all begin at the agreed instant, so they really race.
    var start = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
    if (start > DateTimeOffset.UtcNow)
    {
        await Task.Delay(start - DateTimeOffset.UtcNow).ConfigureAwait(false);
    }

    if (crash)
    {
        var reserved = 0;
        var allReserved = new TaskCompletionSource();
        for (var i = 0; i < count; i++)
        {
            var scope = new ModelCallScope(ModelCallPurpose.Agent)
            {
                Preset = preset,
                SessionId = Guid.NewGuid(),
                Reserved = _ =>
                {
                    if (Interlocked.Increment(ref reserved) == count)
                    {
                        allReserved.TrySetResult();
                    }

                    return ValueTask.CompletedTask;
                },
            };
            _ = client.GetResponseAsync(prompt, scope.ApplyTo(agentOptions));
        }

        await allReserved.Task.ConfigureAwait(false);
        Console.WriteLine(JsonSerializer.Serialize(new { reserved = count }));
        Console.Out.Flush();
        await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
    }

    int granted = 0, refused = 0, falseRefusals = 0;
    using var slots = new SemaphoreSlim(concurrency);
    await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
    {
        await slots.WaitAsync().ConfigureAwait(false);
        try
        {
            var scope = new ModelCallScope(ModelCallPurpose.Agent) { Preset = preset, SessionId = Guid.NewGuid(), NewSession = true };
            await client.GetResponseAsync(prompt, scope.ApplyTo(agentOptions)).ConfigureAwait(false);
            // Nothing stores these calls' records here, so they are committed at once.
            await scope.CommitAsync().ConfigureAwait(false);
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

/// <summary>A model in process: answers at once with the prompt counted as input and 50 output tokens, or never.</summary>
internal sealed class InstantProvider(bool hang) : IChatClientProvider
{
    public string Kind => ProviderKinds.OpenAICompatible;

    public IChatClient CreateClient(ResolvedProvider provider) => new Client(hang, provider);

    private sealed class Client(bool hang, ResolvedProvider provider) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            if (hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }

            var input = TokenEstimator.CountPrompt(provider, options?.Instructions, messages.ToList());
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = options?.MaxOutputTokens ?? 50, TotalTokenCount = input + 50 },
            };
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var update in (await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false)).ToChatResponseUpdates())
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
