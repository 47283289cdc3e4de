using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Steward.Budgets;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

/// <summary>An engine whose model answers instantly with exactly the usage the budget step estimated.</summary>
internal static class BudgetTestSupport
{
    public const int MaxOutput = 50;

    /// <summary>An engine whose one budget is a per-session cap of 1,000,000 tokens, on SQLite or PostgreSQL (<see cref="TestPostgres.Providers"/>).</summary>
    public static async Task<TestEngine> StartWithSessionBudgetAsync(string storage = "sqlite", FakeTimeProvider? time = null) =>
        (await StartAsync(s => Policy(s, 0, "session", "Session", "None", tokens: 1_000_000), time, database: await TestPostgres.DatabaseForAsync(storage))).Engine;

    public static async Task<(TestEngine Engine, InstantChatClientProvider Model)> StartAsync(
        Action<Dictionary<string, string?>>? configure = null, FakeTimeProvider? time = null, string? folder = null, string? database = null)
    {
        var model = new InstantChatClientProvider();
        var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", settings =>
        {
            if (database is not null)
            {
                settings["Steward:Storage:Database"] = database;
            }

            settings["Steward:Budgets:DefaultMaxOutputTokens"] = MaxOutput.ToString(System.Globalization.CultureInfo.InvariantCulture);
            configure?.Invoke(settings);
        }, services =>
        {
            services.AddSingleton<IChatClientProvider>(model);
            if (time is not null)
            {
                services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time));
            }
        }, folder);
        var provider = engine.Get<ProviderCatalog>().Resolve(null, null);
        // Report exactly the worst case the budget step reserved: the prompt as estimated, the full output cap sent. A call
        // sent with no cap gets what a real model does then: as much as it likes (far past any cap Steward would reserve).
        model.Usage = (messages, options) => (TokenEstimator.CountPrompt(provider, options?.Instructions, messages), options?.MaxOutputTokens ?? ModelsOwnMaximum);
        return (engine, model);
    }

    /// <summary>What the test model generates when it is sent no output cap.</summary>
    public const int ModelsOwnMaximum = 100_000;

    /// <summary>One model call's budget request for a "Hi" on the test preset, as the budget layer makes it.</summary>
    public static BudgetRequest CallRequest(TestEngine engine, Guid? sessionId = null, bool newSession = false, RequestBudgetCounter? request = null)
    {
        var provider = engine.Get<ProviderCatalog>().Resolve(null, null);
        var preset = engine.Get<Steward.Agents.PresetCatalog>().Get("assistant");
        return new BudgetRequest
        {
            Preset = preset,
            SessionId = sessionId ?? Guid.NewGuid(),
            NewSession = newSession,
            Provider = provider,
            MaxOutputTokens = MaxOutput,
            CountPrompt = () => TokenEstimator.CountPrompt(provider, preset.Instructions, [new ChatMessage(ChatRole.User, "Hi")]),
            Request = request,
        };
    }

    /// <summary>Settles a call's reservation at what it used and commits it, as a stored call is.</summary>
    public static async Task SettleAndCommitAsync(IBudgetReservation reservation, Steward.Agents.RunUsage usage)
    {
        await reservation.SettleAsync(usage, Steward.Agents.RunCost.Unpriced, TestContext.Current.CancellationToken);
        await reservation.CommitAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>The worst case of one "Hi" request on the test preset.</summary>
    public static long WorstCaseTokens(TestEngine engine, string query = "Hi")
    {
        var provider = engine.Get<ProviderCatalog>().Resolve(null, null);
        var preset = engine.Get<Steward.Agents.PresetCatalog>().Get("assistant");
        return TokenEstimator.CountPrompt(provider, preset.Instructions, [new ChatMessage(ChatRole.User, query)]) + MaxOutput;
    }

    public static void Policy(Dictionary<string, string?> settings, int index, string id, string scope, string period, long? tokens = null, decimal? usd = null, string mode = "Hard")
    {
        var prefix = $"Steward:Budgets:Policies:{index}:";
        settings[prefix + "Id"] = id;
        settings[prefix + "Scope"] = scope;
        settings[prefix + "Period"] = period;
        settings[prefix + "Mode"] = mode;
        if (tokens is { } t)
        {
            settings[prefix + "MaxTokens"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (usd is { } u)
        {
            settings[prefix + "MaxUsd"] = u.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// The counter as the database has it once this process has written its settled spend and given back the holds no
    /// run uses: exactly what is spent and what runs in flight hold.
    /// </summary>
    internal static async Task<CounterState> CounterAsync(TestEngine engine, string key, string period = "all")
    {
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: true, TestContext.Current.CancellationToken);
        return (await engine.Get<BudgetLedger>().ReadAsync([(key, period)], TestContext.Current.CancellationToken))[0];
    }

    /// <summary>How many hold rows the ledger's store has (its own file on SQLite, the main database on PostgreSQL).</summary>
    internal static Task<long> HoldRowsAsync(TestEngine engine) => CountRowsAsync(engine, "SELECT COUNT(*) FROM budget_reservations", null);

    /// <summary>How many counters of <paramref name="scopeKey"/> the ledger has (every period).</summary>
    internal static Task<long> CounterRowsAsync(TestEngine engine, string scopeKey) =>
        CountRowsAsync(engine, """SELECT COUNT(*) FROM budget_counters WHERE "ScopeKey" = @k""", scopeKey);

    /// <summary>Makes a counter in the ledger as another process would have, with <paramref name="spentTokens"/> spent on it.</summary>
    internal static async Task InsertCounterAsync(TestEngine engine, string scopeKey, long spentTokens, string period = "all")
    {
        var backend = engine.Get<StorageBackend>();
        await using var connection = backend.CreateConnection(StorageFile.Budgets);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """INSERT INTO budget_counters ("ScopeKey", "PeriodStart", "SpentTokens", "SpentNanoUsd", "ReservedTokens", "ReservedNanoUsd", "UpdatedAt") """ +
                              "VALUES (@k, @p, @t, 0, 0, 0, @now)";
        foreach (var (name, value) in new (string, object)[] { ("@k", scopeKey), ("@p", period), ("@t", spentTokens), ("@now", backend.Date(DateTime.UtcNow)) })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<long> CountRowsAsync(TestEngine engine, string sql, string? scopeKey)
    {
        await using var connection = engine.Get<StorageBackend>().CreateConnection(StorageFile.Budgets);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (scopeKey is not null)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@k";
            parameter.Value = scopeKey;
            command.Parameters.Add(parameter);
        }

        return StorageBackend.ToInt64(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }
}
