using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Providers;
using Steward.Sessions;
using Steward.Storage;
using Steward.Telemetry;
using Steward.Tools;

namespace Steward;

/// <summary>Registers Steward's engine: presets, providers, the agent registry and runner, sessions and storage.</summary>
public static class StewardServiceCollectionExtensions
{
    /// <summary>The configuration section Steward reads.</summary>
    public const string SectionName = "Steward";

    /// <summary>
    /// Adds the engine, bound to the <c>Steward</c> section of <paramref name="configuration"/>. Provider settings are
    /// validated at start and every problem is reported together.
    /// </summary>
    public static IServiceCollection AddStewardEngine(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);

        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();

        services.AddOptions<PresetOptions>().Bind(section.GetSection("Agents"));
        services.AddOptions<RunOptions>().Bind(section.GetSection("Runs")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RunOptions>, RunOptionsValidator>();
        services.AddOptions<StorageOptions>().Bind(section.GetSection("Storage")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddOptions<LocalEngineOptions>().Bind(section.GetSection("LocalModels"));
        services.AddSingleton(sp => new Steward.LocalModels.Models.ModelStore(sp.GetRequiredService<IOptions<LocalEngineOptions>>().Value.ModelsDirectory));
        services.AddOptions<ProvidersOptions>().Bind(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProvidersOptions>, ProvidersOptionsValidator>();

        // Before anything of this process opens a SQLite connection: SQLite takes its process-wide settings only then.
        Storage.Sqlite.SqliteLibrary.Configure();
        services.AddSingleton<SqliteWriteLock>();
        services.AddSingleton<WalCheckpointer>();
        services.AddSingleton<Storage.Sqlite.SqliteBackend>();
        services.AddSingleton<Storage.Postgres.PostgresBackend>();
        services.AddSingleton<StorageBackend>(sp => sp.GetRequiredService<IOptions<StorageOptions>>().Value.Provider == StorageProvider.Postgres
            ? sp.GetRequiredService<Storage.Postgres.PostgresBackend>()
            : sp.GetRequiredService<Storage.Sqlite.SqliteBackend>());
        services.AddSingleton<ProcessLease>();
        services.AddSingleton<RunWriter>();
        services.AddSingleton<Calls.ModelCallStore>();
        services.AddSingleton<Telemetry.TraceDatabase>();
        services.AddSingleton(sp => new DataProtectionKeyStore(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton<IDbContextFactory<StewardDbContext>, StewardContextFactory>();
        services.AddSingleton<IDbContextFactory<Telemetry.TraceDbContext>, TraceContextFactory>();

        services.AddSingleton<PresetCatalog>();
        services.AddSingleton<PresetEditor>();
        services.AddSingleton<ProviderCatalog>();
        BuiltInProviders.Register(services);
        services.AddOptions<ResponseCacheOptions>().Bind(section.GetSection("ResponseCache"));
        services.AddDistributedMemoryCache();
        services.AddSingleton<ChatClientFactory>();
        services.AddSingleton<ProviderReadiness>();
        services.AddSingleton<AgentRegistry>();

        services.AddOptions<BudgetOptions>().Bind(section.GetSection("Budgets")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<BudgetOptions>, BudgetOptionsValidator>();
        services.TryAddSingleton<HostResolver>();
        services.AddHttpClient(BudgetAlertNotifier.HttpClientName).ConfigurePrimaryHttpMessageHandler(sp => WebhookAddresses.CreateHandler(
            sp.GetRequiredService<IOptions<BudgetOptions>>().Value.AllowPrivateWebhooks, sp.GetRequiredService<HostResolver>()));
        services.AddSingleton<BudgetLedger>();
        services.AddSingleton<BudgetEscrow>();
        services.AddSingleton<BudgetPolicyCatalog>();
        services.AddSingleton<BudgetAlertNotifier>();
        services.AddSingleton<BudgetRemaining>();
        services.TryAddSingleton<IBudgetGate, LedgerBudgetGate>();
        services.AddStewardCosts(section);
        services.AddStewardEvaluation(section);
        services.AddStewardTools(section);

        services.AddSingleton(sp => new BudgetStatusReader(sp.GetRequiredService<BudgetPolicyCatalog>(), sp.GetRequiredService<BudgetLedger>(),
            sp.GetRequiredService<PresetCatalog>(), sp.GetRequiredService<IOptions<BudgetOptions>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new BudgetAdministration(
            sp.GetRequiredService<BudgetPolicyCatalog>(), sp.GetRequiredService<BudgetLedger>(), sp.GetRequiredService<BudgetStatusReader>(),
            sp.GetRequiredService<PresetCatalog>()));
        services.AddOptions<Analytics.ReportOptions>().Bind(section.GetSection("Reports")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<Analytics.ReportOptions>, Analytics.ReportOptionsValidator>();
        services.AddSingleton(sp => new Analytics.AnalyticsQueries(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>(), sp.GetRequiredService<CostReports>(),
            sp.GetRequiredService<QualityTrends>(), sp.GetRequiredService<StorageBackend>(), sp.GetRequiredService<IOptions<Analytics.ReportOptions>>()));

        services.AddStewardTelemetry(configuration);
        services.AddSingleton<SessionStore>();
        services.AddSingleton(sp => new IdLookup(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton(sp => new RunSearch(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton(sp => new SessionSearch(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton<Keys.ApiKeyStore>();
        services.AddSingleton(sp => new Keys.ApiKeys(sp.GetRequiredService<Keys.ApiKeyStore>(), sp.GetRequiredService<BudgetRemaining>(), sp.GetRequiredService<CostReports>()));
        services.AddSingleton(sp => new Users.UserStore(
            sp.GetRequiredService<IDbContextFactory<StewardDbContext>>(), sp.GetRequiredService<StorageBackend>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<SessionExporter>();
        services.AddSingleton(sp => new StoredSessions(sp.GetRequiredService<SessionStore>(), sp.GetRequiredService<SessionExporter>(), sp.GetRequiredService<EvaluationStore>(),
            new Lazy<BudgetEscrow>(sp.GetRequiredService<BudgetEscrow>)));
        services.AddSingleton(sp => new RunExporter(sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton<DatabaseInitializer>();
        services.AddSingleton(sp => new RunCancellations(
            sp.GetRequiredService<AgentRunner>(), sp.GetRequiredService<IDbContextFactory<StewardDbContext>>(), sp.GetRequiredService<StorageBackend>(),
            sp.GetRequiredService<ProcessLease>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<RunCancellations>>()));
        services.AddSingleton(sp => new RunStreamLog(
            sp.GetRequiredService<IDbContextFactory<StewardDbContext>>(), sp.GetRequiredService<StorageBackend>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new StewardDatabase(sp.GetRequiredService<DatabaseInitializer>(), sp.GetRequiredService<ProcessLease>(), sp.GetRequiredService<IDbContextFactory<StewardDbContext>>()));
        services.AddSingleton(sp => new AgentRunner(
            sp.GetRequiredService<PresetCatalog>(), sp.GetRequiredService<ProviderCatalog>(), sp.GetRequiredService<AgentRegistry>(),
            sp.GetRequiredService<SessionStore>(), new Lazy<BudgetEscrow>(sp.GetRequiredService<BudgetEscrow>), sp.GetRequiredService<EvaluationQueue>(),
            sp.GetRequiredService<Tools.ToolCatalog>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<AgentRunner>>(), StartTelemetry(sp), sp.GetRequiredService<IOptions<RunOptions>>().Value));
        return services;
    }

    // Without a host (the CLI, tests) nothing else would start the OpenTelemetry providers, so the runner does: its
    // spans and metrics must not depend on who built the container.
    private static RunTelemetry StartTelemetry(IServiceProvider services)
    {
        _ = services.GetService<OpenTelemetry.Trace.TracerProvider>();
        _ = services.GetService<OpenTelemetry.Metrics.MeterProvider>();
        return services.GetRequiredService<RunTelemetry>();
    }
}
