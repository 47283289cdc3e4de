using Microsoft.EntityFrameworkCore;

namespace Steward.Telemetry;

/// <summary>Brings the trace store's schema up to date (its own file on SQLite, its own tables and history on PostgreSQL).</summary>
internal sealed class TraceDatabase(IDbContextFactory<TraceDbContext> contexts)
{
    /// <summary>Migrates the trace store. On SQLite, call before the main database's migrations, which drop the spans' old table.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }
}
