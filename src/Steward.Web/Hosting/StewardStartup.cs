using Steward.Agents;
using Steward.Providers;
using Steward.Storage;

namespace Steward.Web.Hosting;

/// <summary>
/// Readies the engine before the app takes requests: every preset must parse (a broken file stops start-up with a
/// message naming file and line), the database is migrated, and runs of crashed processes are marked interrupted.
/// </summary>
internal sealed partial class StewardStartup(
    PresetCatalog presets, DatabaseInitializer database, ProviderReadiness readiness, ILogger<StewardStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        presets.LoadAll();
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
