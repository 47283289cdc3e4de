using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Steward.Providers;
using Steward.Storage;

namespace Steward.Cli;

/// <summary>
/// The engine's services for one CLI invocation: configuration from <c>appsettings.json</c> beside the tool and in the
/// current folder, the environment and its shortcuts; logs of warnings and worse on standard error.
/// </summary>
internal sealed class CliServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private CliServices(ServiceProvider provider) => _provider = provider;

    /// <param name="overrides">Settings from command-line options (e.g. <c>--judge</c>), which win over every other source.</param>
    public static CliServices Create(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddStewardEnvironmentShortcuts()
            .AddInMemoryCollection(overrides ?? new Dictionary<string, string?>())
            .Build();

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(logging => logging
            .AddConfiguration(configuration.GetSection("Logging"))
            .SetMinimumLevel(LogLevel.Warning)
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Error)
            // A budget alert is a line of the run's progress on the terminal already; the notifier's log warning printed it
            // a second time. A webhook that fails is still said (an error: the alert did not reach anyone).
            .AddFilter(Steward.Budgets.BudgetAdministration.AlertLogCategory, LogLevel.Error)
            // Likewise a provider anomaly (more output reported than the cap sent) is a note in the run's progress: its log
            // warning, printed beside the streamed answer, ran into the answer's last line.
            .AddFilter(Steward.Calls.ModelCallScope.AnomalyLogCategory, LogLevel.Error));
        services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        services.AddStewardEngine(configuration);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        // Options validated on start in a host; a bare provider checks them here, reporting every problem at once.
        _ = provider.GetRequiredService<IOptions<ProvidersOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Telemetry.TelemetryOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Evaluation.EvaluationOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Budgets.BudgetOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Agents.RunOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Tools.WebSearchOptions>>().Value;
        _ = provider.GetRequiredService<IOptions<Steward.Tools.ToolOptions>>().Value;
        return new CliServices(provider);
    }

    private bool _runsStarted;

    public T Get<T>() where T : notnull
    {
        _runsStarted |= typeof(T) == typeof(Steward.Agents.AgentRunner) || typeof(T) == typeof(Steward.Evaluation.Batches.EvaluationBatchRunner);
        return _provider.GetRequiredService<T>();
    }

    /// <summary>Migrates the database and marks runs of crashed processes as interrupted.</summary>
    public Task InitializeDatabaseAsync(CancellationToken cancellationToken) =>
        Get<StewardDatabase>().InitializeAsync(cancellationToken);

    /// <summary>
    /// Flushes telemetry before the process ends (a short-lived CLI would otherwise lose the last batch), then disposes
    /// the services. Exporters get a few seconds at most, so an unreachable collector cannot hold up the command.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_runsStarted)
        {
            // Runs still in flight (Ctrl+C) end as Cancelled and are stored; queued answers are scored or recorded as skipped.
            await _provider.GetRequiredService<Steward.Agents.AgentRunner>().StopAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        }

        await _provider.GetRequiredService<StewardDatabase>().StopAsync(CancellationToken.None).ConfigureAwait(false);

        _provider.GetService<TracerProvider>()?.ForceFlush(FlushTimeoutMs);
        _provider.GetService<MeterProvider>()?.ForceFlush(FlushTimeoutMs);
        using (var timeout = new CancellationTokenSource(FlushTimeoutMs))
        {
            try
            {
                await _provider.GetRequiredService<Steward.Telemetry.StoredTraces>().FlushAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The store's writer finishes what it can while the provider is disposed below.
            }
        }

        await _provider.DisposeAsync().ConfigureAwait(false);
    }

    private const int FlushTimeoutMs = 5_000;
}
