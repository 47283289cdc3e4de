using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Steward.Storage.Sqlite;

/// <summary>
/// SQLite: one file per store (main, traces, budgets), one writer per file. Writers of this process queue on
/// <see cref="SqliteWriteLock"/> and take SQLite's lock up front (<c>BEGIN IMMEDIATE</c>); every connection gets
/// <see cref="SqliteConnectionSettings"/>; the log is checkpointed by <see cref="WalCheckpointer"/>. Values are stored in
/// EF Core's SQLite formats (upper-case text Guids, ISO text timestamps), so EF reads hand-written rows as its own.
/// </summary>
internal sealed class SqliteBackend(IOptions<StorageOptions> storage, SqliteWriteLock writeLock, WalCheckpointer checkpointer) : StorageBackend
{
    private const string DateFormat = "yyyy-MM-dd HH:mm:ss.FFFFFFF";
    private const string MainSetting = "Steward:Storage:Database (STEWARD_DB)";
    private const string TraceSetting = "Steward:Storage:TraceDatabase";
    private const string BudgetSetting = "Steward:Storage:BudgetDatabase";
    private const string TraceColumns = "Id, TraceId, SpanId, ParentSpanId, Name, Source, Kind, StartTime, DurationTicks, StatusCode, StatusMessage, Attributes, Events";

    public override StorageProvider Provider => StorageProvider.Sqlite;

    public override string ConnectionString => storage.Value.ResolveConnectionString();

    private string TraceConnectionString => storage.Value.ResolveTraceConnectionString();

    private string BudgetConnectionString => storage.Value.ResolveBudgetConnectionString();

    private string ConnectionStringOf(StorageFile file) => file switch
    {
        StorageFile.Traces => TraceConnectionString,
        StorageFile.Budgets => BudgetConnectionString,
        _ => ConnectionString,
    };

    public override DbConnection CreateConnection(StorageFile file = StorageFile.Main) => new SqliteConnection(ConnectionStringOf(file));

    public override DbConnection OpenWriter(StorageFile file = StorageFile.Main)
    {
        var connection = new SqliteConnection(ConnectionStringOf(file));
        connection.Open();
        using var pragma = connection.CreateCommand();
        // Only the main file's log is checkpointed in the background (WalCheckpointer). Trace writes are off every run's
        // path, and the ledger's file holds a row per counter and per session, written in batches, so SQLite's own
        // checkpoints, at its usual 1,000 pages, suit them.
        pragma.CommandText = SqliteConnectionSettings.Pragmas + " " + SqliteConnectionSettings.WriterPragmas +
            (file == StorageFile.Main ? " " + SqliteConnectionSettings.MainWriterPragmas : " PRAGMA wal_autocheckpoint=1000;");
        pragma.ExecuteNonQuery();
        return connection;
    }

    // IMMEDIATE: take SQLite's write lock at the start, so another process's writer makes this wait (busy timeout), not fail half-way.
    public override DbTransaction BeginWrite(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

    public override async ValueTask<IDisposable> EnterWriteAsync(CancellationToken cancellationToken) =>
        await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);

    public override void Prepare(DbCommand command) => command.Prepare();

    // Bound by index on the native statement: Microsoft.Data.Sqlite's by-name binding costs the square of a statement's parameters.
    public override WriterStatement PrepareWriter(DbConnection connection, string sql, IReadOnlyList<string> names) =>
        new SqliteWriterStatement((SqliteConnection)connection, sql, names);

    // One string, upper-cased in place: formatting then ToUpperInvariant made two for every id of every stored row.
    public override object Id(Guid id) => string.Create(36, id, static (chars, guid) =>
    {
        guid.TryFormat(chars, out _);
        System.Text.Ascii.ToUpperInPlace(chars, out _);
    });

    public override object Date(DateTime value) =>
        (value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).ToString(DateFormat, CultureInfo.InvariantCulture);

    public override object Flag(bool value) => value ? 1 : 0;

    public override string Greatest(string left, string right) => $"MAX({left}, {right})";

    // Timestamps are ISO text: a UTC day is its first ten characters. In another zone the bucket is the UTC quarter hour
    // ("yyyy-MM-dd HH:" and the quarter), since every offset in use, and every daylight-saving change, is a whole number
    // of quarter hours: each quarter hour falls wholly in one local day. Cutting text is far cheaper in SQLite than its
    // date functions.
    public override string DayBucket(string column, TimeZoneInfo zone) => RollupWindow.IsUtc(zone)
        ? $"substr({column}, 1, 10)"
        : $"substr({column}, 1, 14) || (CAST(substr({column}, 15, 2) AS INTEGER) / 15)";

    public override DateOnly DayOf(string bucket, TimeZoneInfo zone) => DayOfUtcBucket(bucket, zone);

    // SQLITE_DBSTATUS_CACHE_WRITE, read and reset: in WAL mode the pages each commit appended to the log.
    public override long TakePagesWritten(DbConnection connection)
    {
        SQLitePCL.raw.sqlite3_db_status(((SqliteConnection)connection).Handle, SQLitePCL.raw.SQLITE_DBSTATUS_CACHE_WRITE, out var written, out _, 1);
        return written;
    }

    public override bool IsContention(Exception exception) => exception is SqliteException { SqliteErrorCode: 5 or 6 };

    public override bool IsDuplicateKey(Exception exception) =>
        (exception as SqliteException ?? exception.InnerException as SqliteException) is { SqliteErrorCode: 19, SqliteExtendedErrorCode: 1555 or 2067 };

    public override void Configure(DbContextOptionsBuilder builder, StorageFile file = StorageFile.Main) =>
        builder.UseSqlite(ConnectionStringOf(file)).AddInterceptors(new SqliteConnectionSettings());

    public override StewardDbContext CreateContext(DbContextOptions<StewardDbContext> options) => new(options);

    public override Telemetry.TraceDbContext CreateTraceContext(DbContextOptions<Telemetry.TraceDbContext> options) => new(options);

    public override async Task PrepareAsync(Func<CancellationToken, Task> migrateTraces, Func<CancellationToken, Task> migrate, CancellationToken cancellationToken)
    {
        var main = ConnectionString;
        // The main database is checked first, so a wrong path creates nothing beside it (not even the trace store's file).
        await CheckAsync(main, MainSetting, cancellationToken).ConfigureAwait(false);
        try
        {
            // Then the trace store: it takes over the spans the main database's migrations are about to drop.
            await migrateTraces(cancellationToken).ConfigureAwait(false);
            await JournalAsync(TraceConnectionString, cancellationToken).ConfigureAwait(false);
            await CopyLegacySpansAsync(main, TraceConnectionString, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(TraceConnectionString, TraceSetting, ex);
        }

        try
        {
            // Then the ledger's file: it takes over the counters and holds the main database's migrations are about to drop.
            await MigrateBudgetsAsync(cancellationToken).ConfigureAwait(false);
            await JournalAsync(BudgetConnectionString, cancellationToken).ConfigureAwait(false);
            await MoveLegacyBudgetsAsync(main, BudgetConnectionString, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(BudgetConnectionString, BudgetSetting, ex);
        }

        try
        {
            await migrate(cancellationToken).ConfigureAwait(false);
            await JournalAsync(main, cancellationToken).ConfigureAwait(false);
            // SQLite plans from the statistics ANALYZE gathers, and has none until someone runs it: without them a filter on a
            // store of a million runs may walk the wrong index. optimize analyzes only the tables that need it (never
            // analyzed, or grown tenfold), sampling at most 1,000 rows per index so a start stays quick on a large file.
            await OptimizeAsync(main, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(main, MainSetting, ex);
        }

        checkpointer.Start();
    }

    /// <summary>
    /// Gathers the statistics the planner needs, except for the search index's own tables (FTS5's <c>search_text_*</c>),
    /// whose statistics are dropped. Analyzed at the first start, <c>search_text_data</c> holds its two bookkeeping rows,
    /// and optimize re-analyzes a table only at a start after it has grown tenfold: planned for two rows, one of FTS5's
    /// own statements on that table read it whole on every flush, so each run's text cost the writer more as the index grew
    /// (a replay of the run writer's statements went from 0.3 ms to 1.2 ms per run over 40,000 runs in one process; the
    /// 64-concurrent writer fell from 3,000 runs/s to 1,000 after 100,000). Without statistics SQLite plans those statements
    /// by rowid, whatever the index's size. Statistics are loaded when a connection reads the schema and this changes no
    /// schema, so connections pooled before (the start's checks and migrations) would keep the old plan: the pool is cleared.
    /// </summary>
    private static async Task OptimizeAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "PRAGMA analysis_limit=1000; PRAGMA optimize=0x10002;", cancellationToken).ConfigureAwait(false);
            if (await TableExistsAsync(connection, "sqlite_stat1", cancellationToken).ConfigureAwait(false))
            {
                // No need to reload the statistics here: this connection goes with the rest of the pool.
                await ExecuteAsync(connection, """DELETE FROM sqlite_stat1 WHERE tbl LIKE 'search\_text\_%' ESCAPE '\';""", cancellationToken)
                    .ConfigureAwait(false);
            }
        }

        SqliteConnection.ClearPool(connection);
    }

    /// <summary>WAL journaling, so readers don't block the writer (a property of the file: set once, kept).</summary>
    private static Task JournalAsync(string connectionString, CancellationToken cancellationToken) =>
        ExecuteAsync(connectionString, "PRAGMA journal_mode=WAL;", cancellationToken);

    /// <summary>Opens the file and reads its schema: a file that is not SQLite, unreadable or unwritable fails here, by name.</summary>
    private static async Task CheckAsync(string connectionString, string setting, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connectionString, "PRAGMA schema_version; BEGIN IMMEDIATE; ROLLBACK;", cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Unusable(connectionString, setting, ex);
        }
    }

    /// <summary>
    /// Copies the main database's <c>trace_spans</c> rows (earlier versions kept spans there), if it still has that table,
    /// into the trace store. Ids are kept, so a copy interrupted part-way is completed, not doubled, by the next start.
    /// </summary>
    private static Task CopyLegacySpansAsync(string mainConnectionString, string traceConnectionString, CancellationToken cancellationToken) =>
        WithMainAttachedAsync(mainConnectionString, traceConnectionString, async connection =>
        {
            if (await HasLegacyTableAsync(connection, null, "trace_spans", cancellationToken).ConfigureAwait(false))
            {
                await ExecuteAsync(connection, $"INSERT OR IGNORE INTO trace_spans ({TraceColumns}) SELECT {TraceColumns} FROM main_db.trace_spans", cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);

    private async Task MigrateBudgetsAsync(CancellationToken cancellationToken)
    {
        var db = new BudgetLedgerDbContext(StewardContextFactory.Build<BudgetLedgerDbContext>(this, StorageFile.Budgets));
        await using (db.ConfigureAwait(false))
        {
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Copies the main database's budget counters, holds and fired alerts (earlier versions kept the ledger there), if it
    /// still has those tables, into the ledger's file, in one transaction: no spend and no hold is lost or counted twice.
    /// Rows the ledger's file has already are kept, so a start interrupted between this copy and the main database's
    /// migration that drops the old tables copies nothing again.
    /// </summary>
    private static Task MoveLegacyBudgetsAsync(string mainConnectionString, string budgetConnectionString, CancellationToken cancellationToken) =>
        WithMainAttachedAsync(mainConnectionString, budgetConnectionString, async connection =>
        {
            // The check is made inside the transaction that holds the ledger file's write lock: another process starting
            // beside this one either copied and dropped the old tables before (they are gone from what this reads), or
            // waits for this copy before its ledger writes anything (so the copy never brings back a hold it released).
            var tx = connection.BeginTransaction(deferred: false);
            await using (tx.ConfigureAwait(false))
            {
                if (!await HasLegacyTableAsync(connection, tx, "budget_counters", cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                var copy = connection.CreateCommand();
                await using (copy.ConfigureAwait(false))
                {
                    copy.Transaction = tx;
                    copy.CommandText =
                        $"INSERT OR IGNORE INTO budget_counters ({CounterColumns}) SELECT {CounterColumns} FROM main_db.budget_counters; " +
                        $"INSERT OR IGNORE INTO budget_reservations ({ReservationColumns}) SELECT {ReservationColumns} FROM main_db.budget_reservations; " +
                        $"INSERT OR IGNORE INTO budget_alerts ({AlertColumns}) SELECT {AlertColumns} FROM main_db.budget_alerts;";
                    await copy.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="body"/> on a connection to <paramref name="targetConnectionString"/> with the main database
    /// attached as <c>main_db</c>; does nothing when there is no main file apart from the target to copy from.
    /// </summary>
    private static async Task WithMainAttachedAsync(
        string mainConnectionString, string targetConnectionString, Func<SqliteConnection, Task> body, CancellationToken cancellationToken)
    {
        var main = new SqliteConnectionStringBuilder(mainConnectionString).DataSource;
        var target = new SqliteConnectionStringBuilder(targetConnectionString);
        if (main is ":memory:" || !File.Exists(main) || target.DataSource == main)
        {
            return;
        }

        var connection = new SqliteConnection(target.ToString());
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "ATTACH DATABASE $main AS main_db", cancellationToken, ("$main", main)).ConfigureAwait(false);
            try
            {
                await body(connection).ConfigureAwait(false);
            }
            finally
            {
                await ExecuteAsync(connection, "DETACH DATABASE main_db", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the attached main database still has <paramref name="table"/>, an earlier version's.</summary>
    private static Task<bool> HasLegacyTableAsync(SqliteConnection connection, SqliteTransaction? tx, string table, CancellationToken cancellationToken) =>
        HasTableAsync(connection, tx, "main_db", table, cancellationToken);

    private static Task<bool> TableExistsAsync(SqliteConnection connection, string table, CancellationToken cancellationToken) =>
        HasTableAsync(connection, null, "main", table, cancellationToken);

    private static async Task<bool> HasTableAsync(SqliteConnection connection, SqliteTransaction? tx, string schema, string table, CancellationToken cancellationToken)
    {
        var check = connection.CreateCommand();
        await using (check.ConfigureAwait(false))
        {
            check.Transaction = tx;
            check.CommandText = $"SELECT COUNT(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = $table";
            check.Parameters.AddWithValue("$table", table);
            return ToInt64(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false)) > 0;
        }
    }

    private const string CounterColumns = "ScopeKey, PeriodStart, SpentTokens, SpentNanoUsd, ReservedTokens, ReservedNanoUsd, UpdatedAt";
    private const string ReservationColumns = "Id, Lines, CreatedAt, ExpiresAt, Owner";
    private const string AlertColumns = "PolicyId, PeriodStart, Threshold, FiredAt";

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, sql, cancellationToken).ConfigureAwait(false);
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
