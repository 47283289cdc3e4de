using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>
/// Brings the database up to date at start (migrations, WAL journaling so readers don't block the writer, background
/// checkpoints) and takes this process's lease, whose first sweep marks runs left behind by stopped processes as
/// interrupted and releases their budget holds (later sweeps keep doing so while the process lives).
/// </summary>
internal sealed class DatabaseInitializer(
    IDbContextFactory<StewardDbContext> contexts, ProcessLease lease, WalCheckpointer checkpointer, Telemetry.TraceDatabase traces,
    Microsoft.Extensions.Options.IOptions<StorageOptions> storage)
{
    private int _done;

    /// <exception cref="StorageException">A database cannot be used; the message names the file and what to do.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }

        var main = storage.Value.ResolveConnectionString();
        // The main database is checked first, so a wrong path creates nothing beside it (not even the trace store's file).
        await CheckAsync(main, "Steward:Storage:Database (STEWARD_DB)", cancellationToken).ConfigureAwait(false);
        try
        {
            // Then the trace store: it takes over the spans the main database's migrations are about to drop.
            await traces.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(storage.Value.ResolveTraceConnectionString(), "Steward:Storage:TraceDatabase", ex);
        }

        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(main, "Steward:Storage:Database (STEWARD_DB)", ex);
        }

        checkpointer.Start();
        await lease.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the file and reads its schema: a file that is not SQLite, unreadable or unwritable fails here, by name.</summary>
    private static async Task CheckAsync(string connectionString, string setting, CancellationToken cancellationToken)
    {
        try
        {
            var connection = new SqliteConnection(connectionString);
            await using (connection.ConfigureAwait(false))
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                var command = connection.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.CommandText = "PRAGMA schema_version; BEGIN IMMEDIATE; ROLLBACK;";
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (SqliteException ex)
        {
            throw Unusable(connectionString, setting, ex);
        }
    }

    private static StorageException Unusable(string connectionString, string setting, SqliteException ex)
    {
        var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
        var fix = ex.SqliteErrorCode switch
        {
            26 => "it is not a SQLite database. Point the setting at a Steward database, or at a new file to create one",
            8 => "it is read-only. Give this user write access to the file and its folder",
            14 => "the file cannot be opened or created. Check that its folder exists and this user may write there",
            5 or 6 => "another program holds it locked. Close it, or use another file",
            _ => $"SQLite says: {ex.Message.Split('\n')[0].Trim()}",
        };
        return new StorageException($"{setting} is '{file}', which Steward cannot use: {fix}.", ex);
    }
}
