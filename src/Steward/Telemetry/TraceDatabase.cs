using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>Brings the trace store's own database up to date, and moves in the spans earlier versions kept in the main one.</summary>
internal sealed class TraceDatabase(IDbContextFactory<TraceDbContext> contexts, IOptions<StorageOptions> storage)
{
    private const string Columns = "Id, TraceId, SpanId, ParentSpanId, Name, Source, Kind, StartTime, DurationTicks, StatusCode, StatusMessage, Attributes, Events";

    /// <summary>
    /// Migrates the trace database and copies the main database's <c>trace_spans</c> rows, if it still has that
    /// table, into it. Call before the main database's migrations, which drop the old table. Ids are kept, so a copy
    /// interrupted part-way is completed, not doubled, by the next start.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        }

        var main = new SqliteConnectionStringBuilder(storage.Value.ResolveConnectionString()).DataSource;
        var traces = new SqliteConnectionStringBuilder(storage.Value.ResolveTraceConnectionString());
        if (main is ":memory:" || !File.Exists(main) || traces.DataSource == main)
        {
            return;
        }

        var connection = new SqliteConnection(traces.ToString());
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "ATTACH DATABASE $main AS main_db", cancellationToken, ("$main", main)).ConfigureAwait(false);
            try
            {
                var check = connection.CreateCommand();
                await using (check.ConfigureAwait(false))
                {
                    check.CommandText = "SELECT COUNT(*) FROM main_db.sqlite_master WHERE type = 'table' AND name = 'trace_spans'";
                    if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 0)
                    {
                        return;
                    }
                }

                await ExecuteAsync(connection, $"INSERT OR IGNORE INTO trace_spans ({Columns}) SELECT {Columns} FROM main_db.trace_spans", cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await ExecuteAsync(connection, "DETACH DATABASE main_db", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
