using Steward.Providers;
using Steward.Storage;

namespace Steward.Web.Hosting;

/// <summary>
/// Readies the engine before the app takes requests: the database is migrated, runs of crashed processes are marked
/// interrupted, and a missing model is reported (presets and settings are checked earlier, by RunStewardAsync).
/// </summary>
internal sealed partial class StewardStartup(
    DatabaseInitializer database, ProviderReadiness readiness, ILogger<StewardStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.InitializeAsync(cancellationToken).ConfigureAwait(false);
        if (readiness.DescribeProblem() is { } problem)
        {
            // Start anyway: the page explains what to do, and nothing else depends on a model.
            LogNotReady(problem);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "{Problem}")]
    private partial void LogNotReady(string problem);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
