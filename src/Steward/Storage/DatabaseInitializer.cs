using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>
/// Brings the database up to date at start (migrations, WAL journaling so readers don't block the writer, background
/// checkpoints) and takes this process's lease, whose first sweep marks runs left behind by stopped processes as
/// interrupted and releases their budget holds (later sweeps keep doing so while the process lives).
/// </summary>
internal sealed class DatabaseInitializer(
    IDbContextFactory<StewardDbContext> contexts, ProcessLease lease, WalCheckpointer checkpointer, Telemetry.TraceDatabase traces)
{
    private int _done;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }

        // First: it takes over the spans the main database's migrations are about to drop.
        await traces.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        }

        checkpointer.Start();
        await lease.StartAsync(cancellationToken).ConfigureAwait(false);
    }
}
