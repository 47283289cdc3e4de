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
        services.AddOptions<StorageOptions>().Bind(section.GetSection("Storage"));
        services.AddOptions<LocalEngineOptions>().Bind(section.GetSection("LocalModels"));
        services.AddSingleton(sp => new Steward.LocalModels.Models.ModelStore(sp.GetRequiredService<IOptions<LocalEngineOptions>>().Value.ModelsDirectory));
        services.AddOptions<ProvidersOptions>().Bind(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProvidersOptions>, ProvidersOptionsValidator>();

        services.AddSingleton<SqliteWriteLock>();
        services.AddSingleton<ProcessLease>();
        services.AddSingleton<RunWriter>();
        services.AddSingleton<Calls.ModelCallStore>();
        services.AddSingleton<WalCheckpointer>();
        services.AddSingleton<Telemetry.TraceDatabase>();
        services.AddDbContextFactory<StewardDbContext>((sp, options) => options
            .UseSqlite(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveConnectionString())
            .AddInterceptors(new SqliteConnectionSettings()));
        services.AddDbContextFactory<Telemetry.TraceDbContext>((sp, options) => options
            .UseSqlite(sp.GetRequiredService<IOptions<StorageOptions>>().Value.ResolveTraceConnectionString())
            .AddInterceptors(new SqliteConnectionSettings()));

        services.AddSingleton<PresetCatalog>();
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

        services.AddStewardTelemetry(configuration);
        services.AddSingleton<SessionStore>();
        services.AddSingleton<Keys.ApiKeyStore>();
        services.AddSingleton<SessionExporter>();
        services.AddSingleton<DatabaseInitializer>();
        services.AddSingleton(sp => new AgentRunner(
            sp.GetRequiredService<PresetCatalog>(), sp.GetRequiredService<ProviderCatalog>(), sp.GetRequiredService<AgentRegistry>(),
            sp.GetRequiredService<SessionStore>(), sp.GetRequiredService<EvaluationQueue>(), sp.GetRequiredService<Tools.ToolCatalog>(), sp.GetRequiredService<TimeProvider>(),
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
