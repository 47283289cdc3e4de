using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>
/// What the stores need to know of the database they write to: how to open and configure a connection, how a write
/// transaction starts and queues with the others, how values are stored in hand-written SQL, and which failures mean
/// "contended, try the batch again". SQLite's implementation (<see cref="Sqlite.SqliteBackend"/>) keeps its single writer,
/// pragmas and WAL checkpoints to itself; PostgreSQL's (<see cref="Postgres.PostgresBackend"/>) lets writers run side
/// by side. Hand-written SQL quotes every identifier and names parameters <c>@name</c>, which both providers read.
/// </summary>
internal abstract class StorageBackend
{
    /// <summary>Which database this is.</summary>
    public abstract StorageProvider Provider { get; }

    /// <summary>The main database's connection string.</summary>
    public abstract string ConnectionString { get; }

    /// <summary>A new, closed connection to one of the stores (on PostgreSQL all three are the one database).</summary>
    public abstract DbConnection CreateConnection(StorageFile file = StorageFile.Main);

    /// <summary>Opens a connection for a long-lived writer loop on one of the stores, configured for writing.</summary>
    public abstract DbConnection OpenWriter(StorageFile file = StorageFile.Main);

    /// <summary>Starts a write transaction that takes the database's write locks up front where the database needs that.</summary>
    public abstract DbTransaction BeginWrite(DbConnection connection);

    /// <summary>
    /// Waits for this process's turn to write to the main database, where the database allows one writer at a time
    /// (SQLite); elsewhere returns at once.
    /// </summary>
    public abstract ValueTask<IDisposable> EnterWriteAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Prepares a statement a writer loop reuses. SQLite prepares it now; Npgsql prepares statements it sees repeatedly
    /// by itself (<c>Max Auto Prepare</c>), which also copes with a parameter first sent as null and later typed.
    /// </summary>
    public abstract void Prepare(DbCommand command);

    /// <summary>
    /// Prepares a statement a writer loop reuses on <paramref name="connection"/>, its values set by position in the order
    /// of <paramref name="names"/> (each written <c>@name</c> in <paramref name="sql"/>).
    /// </summary>
    public virtual WriterStatement PrepareWriter(DbConnection connection, string sql, IReadOnlyList<string> names) =>
        new CommandWriterStatement(this, connection, sql, names);

    /// <summary>How a Guid is stored in hand-written SQL.</summary>
    public abstract object Id(Guid id);

    /// <summary>How a UTC timestamp is stored in hand-written SQL.</summary>
    public abstract object Date(DateTime value);

    /// <summary>How a flag is stored in hand-written SQL.</summary>
    public abstract object Flag(bool value);

    /// <summary>The larger of two SQL expressions.</summary>
    public abstract string Greatest(string left, string right);

    /// <summary>
    /// A SQL expression that groups the UTC timestamps of <paramref name="column"/> so that each group falls within one
    /// day of <paramref name="zone"/>; <see cref="DayOf"/> turns a group's value into that day. Reports group by it in
    /// the database and never move rows to find a day.
    /// </summary>
    public abstract string DayBucket(string column, TimeZoneInfo zone);

    /// <summary>The day of <paramref name="zone"/> a <see cref="DayBucket"/> value falls in.</summary>
    public abstract DateOnly DayOf(string bucket, TimeZoneInfo zone);

    /// <summary>
    /// The local day of a bucket that is a UTC day (<c>yyyy-MM-dd</c>) or a UTC quarter hour (<c>yyyy-MM-dd HH:q</c>,
    /// q from 0 to 3). Every offset in use, and every daylight-saving change, is a whole number of quarter hours, so each
    /// quarter hour falls wholly in one local day.
    /// </summary>
    protected static DateOnly DayOfUtcBucket(string bucket, TimeZoneInfo zone)
    {
        var day = DateOnly.ParseExact(bucket.AsSpan(0, 10), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        if (bucket.Length == 10)
        {
            return day;
        }

        var hour = int.Parse(bucket.AsSpan(11, 2), System.Globalization.CultureInfo.InvariantCulture);
        var quarter = int.Parse(bucket.AsSpan(14), System.Globalization.CultureInfo.InvariantCulture);
        var utc = day.ToDateTime(new TimeOnly(hour, quarter * 15), DateTimeKind.Utc);
        return DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(utc, zone));
    }

    /// <summary>
    /// Whether a failure means the database was contended (SQLite busy or locked, a PostgreSQL deadlock or serialization
    /// failure): the whole batch failed and may be tried again, rather than one bad write in it.
    /// </summary>
    public abstract bool IsContention(Exception exception);

    /// <summary>
    /// Database pages the writer <paramref name="connection"/> has written to disk since the last call (SQLite: pages its
    /// commits appended to the write-ahead log); 0 where the provider does not count them (PostgreSQL).
    /// </summary>
    public virtual long TakePagesWritten(DbConnection connection) => 0;

    /// <summary>Whether a write broke a unique or primary key: the row was stored already (by someone else, meanwhile).</summary>
    public abstract bool IsDuplicateKey(Exception exception);

    /// <summary>Configures EF Core for one of the stores.</summary>
    public abstract void Configure(DbContextOptionsBuilder builder, StorageFile file = StorageFile.Main);

    /// <summary>A context on the main database whose model and migrations are this provider's.</summary>
    public abstract StewardDbContext CreateContext(DbContextOptions<StewardDbContext> options);

    /// <summary>A context on the trace store whose model and migrations are this provider's.</summary>
    public abstract Telemetry.TraceDbContext CreateTraceContext(DbContextOptions<Telemetry.TraceDbContext> options);

    /// <summary>
    /// Checks the databases can be used, then brings them up to date; a database that cannot be used fails with a
    /// <see cref="StorageException"/> naming the setting and the fix. <paramref name="migrate"/> runs the migrations.
    /// </summary>
    public abstract Task PrepareAsync(Func<CancellationToken, Task> migrateTraces, Func<CancellationToken, Task> migrate, CancellationToken cancellationToken);

    /// <summary>The text of a stored value read back by hand-written SQL, as the provider returns it.</summary>
    public static long ToInt64(object? value) => value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Steward's stores. On SQLite each is a file of its own, because SQLite has one writer per file: spans and budget holds
/// would otherwise queue with the runs' own writes. On PostgreSQL they are one database.
/// </summary>
internal enum StorageFile
{
    /// <summary>Sessions, runs, calls, reports, users, keys: everything but the two below.</summary>
    Main,

    /// <summary>The embedded trace store's spans.</summary>
    Traces,

    /// <summary>The budget ledger: counters, holds and fired alerts.</summary>
    Budgets,
}

/// <summary>The EF Core context factories, each context of the configured provider's kind.</summary>
internal sealed class StewardContextFactory(StorageBackend backend) : IDbContextFactory<StewardDbContext>
{
    private readonly DbContextOptions<StewardDbContext> _options = Build<StewardDbContext>(backend, StorageFile.Main);

    public StewardDbContext CreateDbContext() => backend.CreateContext(_options);

    internal static DbContextOptions<T> Build<T>(StorageBackend backend, StorageFile file) where T : DbContext
    {
        var builder = new DbContextOptionsBuilder<T>();
        backend.Configure(builder, file);
        return builder.Options;
    }
}

/// <inheritdoc cref="StewardContextFactory"/>
internal sealed class TraceContextFactory(StorageBackend backend) : IDbContextFactory<Telemetry.TraceDbContext>
{
    private readonly DbContextOptions<Telemetry.TraceDbContext> _options = StewardContextFactory.Build<Telemetry.TraceDbContext>(backend, StorageFile.Traces);

    public Telemetry.TraceDbContext CreateDbContext() => backend.CreateTraceContext(_options);
}
