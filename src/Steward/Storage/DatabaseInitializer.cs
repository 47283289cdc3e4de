using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>
/// Brings the databases up to date at start (through the provider's <see cref="StorageBackend.PrepareAsync"/>: checks,
/// migrations, and for SQLite its journaling and background checkpoints) and takes this process's lease, whose first
/// sweep marks runs left behind by stopped processes as interrupted and releases their budget holds (later sweeps keep
/// doing so while the process lives), then starts watching for cancel requests of this process's runs.
/// </summary>
internal sealed class DatabaseInitializer(
    IDbContextFactory<StewardDbContext> contexts, ProcessLease lease, StorageBackend backend, Telemetry.TraceDatabase traces, Agents.RunCancellations cancellations)
{
    private int _done;

    /// <exception cref="StorageException">A database cannot be used; the message names the setting, what is wrong and what to do.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }

        await backend.PrepareAsync(traces.InitializeAsync, async ct =>
        {
            await using var db = await contexts.CreateDbContextAsync(ct).ConfigureAwait(false);
            await db.Database.MigrateAsync(ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await lease.StartAsync(cancellationToken).ConfigureAwait(false);
        // Cancel requests made at another instance for this process's runs are looked for while it has runs in progress.
        cancellations.Start();
    }
}
