using Steward.Agents;
using Steward.Storage;

namespace Steward.Web.Hosting;

/// <summary>
/// Readies the engine before the app takes requests: every preset must parse (a broken file stops start-up with a
/// message naming file and line), the database is migrated, and runs of crashed processes are marked interrupted.
/// </summary>
internal sealed class StewardStartup(PresetCatalog presets, DatabaseInitializer database) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        presets.LoadAll();
        await database.InitializeAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
