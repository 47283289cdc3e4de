using Steward.Providers;
using Steward.Storage;

namespace Steward.Web.Hosting;

/// <summary>
/// Readies the engine before the app takes requests (the database is migrated, this process's lease taken and the runs
/// of stopped processes marked interrupted, a missing model reported; presets and settings are checked earlier, by
/// CheckStewardStartAsync), and stops it in order when the app stops.
/// </summary>
internal sealed partial class StewardStartup(
    StewardDatabase database, ProviderReadiness readiness, Steward.Agents.AgentRunner runner, ILogger<StewardStartup> logger) : IHostedService
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

    /// <summary>
    /// On shutdown (Ctrl+C, SIGTERM) every run in progress ends as cancelled and is stored before the process exits, and
    /// answers waiting to be scored are scored or recorded as skipped.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await runner.StopAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        await database.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
