using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Steward.Storage;

/// <summary>
/// Settings every SQLite connection gets when it opens: SQLite's own busy handler (retries a held lock every few
/// milliseconds, where the client library alone would sleep far longer); NORMAL sync, which in WAL mode is durable
/// across process crashes and saves an fsync per commit; and checkpoints left to <see cref="WalCheckpointer"/>, with
/// SQLite's own only past 10,000 pages (40 MB) and the log file cut back to 64 MB after one.
/// </summary>
internal sealed class SqliteConnectionSettings : DbConnectionInterceptor
{
    internal const string Pragmas = "PRAGMA busy_timeout=30000; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864; " +
        MemoryMapping;

    /// <summary>
    /// The database file read through memory mapping (its first GiB), not a pread per page SQLite's own cache lacks. Once a
    /// store outgrew the run writer's 16 MiB cache, the search index's merges (a question asked again and again makes long
    /// lists of the same trigrams) read its pages back one system call each: in bench/Steward.Bench's soak at 64 concurrent
    /// runs the writer fell from ~3,000 runs/s to ~330 after ~100,000 runs, spending most of its time in pread; mapped,
    /// ~1,000 at the same point. The mapped pages are the operating system's file cache, shared by every connection and
    /// process, not memory of Steward's own. Nothing in Steward shrinks the file (no VACUUM), which is what mapping cannot survive.
    /// </summary>
    internal const string MemoryMapping = "PRAGMA mmap_size=1073741824;";

    /// <summary>
    /// For every writer (the main store's, the ledger's, the trace store's): savepoint journals in memory. SQLite's default
    /// put the pages a savepoint or a statement might undo in a temporary file once they outgrew 64 KiB: the run writer's, and
    /// each escrow flush of a few hundred sessions' spend in the ledger (48 files created, written and deleted in a
    /// 15-second soak of bench/Steward.Bench at 64 concurrent runs; none after).
    /// </summary>
    internal const string WriterPragmas = "PRAGMA temp_store=MEMORY;";

    /// <summary>
    /// For the main store's writers, besides <see cref="WriterPragmas"/>: a page cache of 16 MiB instead of SQLite's 2 MiB.
    /// A gateway run's write touches some twenty tables and indexes (runs, events, calls, messages, sessions, rollups, the
    /// search index), and with the default cache the run writer read back most of their pages with a pread each batch
    /// (traced: eight page reads per page it wrote). With the journals in memory, side by side in bench/Steward.Gateway.Bench
    /// the gateway served 1.20x (1 in flight), 1.44x (64) and 1.17x (256) the requests at 0.80x the CPU per request, for
    /// ~30 MiB more peak memory.
    /// </summary>
    internal const string MainWriterPragmas = "PRAGMA cache_size=-16384;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
