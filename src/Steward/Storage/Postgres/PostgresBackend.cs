using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Steward.Storage.Postgres;

/// <summary>
/// PostgreSQL: one database that several Steward instances share, spans included (no single writer to keep them
/// apart from). Writers run side by side under row locks; nothing here assumes one process. Values are stored in their
/// native types (uuid, timestamptz, boolean).
/// </summary>
internal sealed class PostgresBackend(IOptions<StorageOptions> storage) : StorageBackend
{
    /// <summary>The trace store's migrations history, apart from the main one's in the same database.</summary>
    internal const string TraceHistoryTable = "__EFMigrationsHistory_traces";

    private const string Setting = "Steward:Storage:Database (STEWARD_DB)";

    public override StorageProvider Provider => StorageProvider.Postgres;

    public override string ConnectionString => storage.Value.ResolveConnectionString();

    public override DbConnection CreateConnection(StorageFile file = StorageFile.Main) => new NpgsqlConnection(ConnectionString);

    public override DbConnection OpenWriter(StorageFile file = StorageFile.Main)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    public override DbTransaction BeginWrite(DbConnection connection) => connection.BeginTransaction(IsolationLevel.ReadCommitted);

    public override ValueTask<IDisposable> EnterWriteAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IDisposable>(NoTurn.Instance);
    }

    public override void Prepare(DbCommand command)
    {
    }

    public override object Id(Guid id) => id;

    public override object Date(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    public override object Flag(bool value) => value;

    public override string Greatest(string left, string right) => $"GREATEST({left}, {right})";

    // PostgreSQL knows the IANA zones: the local day is computed where the rows are. A zone without an IANA name (a
    // custom one) is a fixed offset when it has no daylight saving; otherwise rows are grouped by UTC quarter hour and
    // the day found here.
    public override string DayBucket(string column, TimeZoneInfo zone)
    {
        if (IanaId(zone) is { } iana)
        {
            return $"to_char({column} AT TIME ZONE '{iana.Replace("'", "''", StringComparison.Ordinal)}', 'YYYY-MM-DD')";
        }

        if (!zone.SupportsDaylightSavingTime)
        {
            var offset = zone.BaseUtcOffset;
            var text = (offset < TimeSpan.Zero ? "-" : "+") + offset.Duration().ToString(@"hh\:mm", System.Globalization.CultureInfo.InvariantCulture);
            return $"to_char({column} AT TIME ZONE INTERVAL '{text}', 'YYYY-MM-DD')";
        }

        return $"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:') || (EXTRACT(MINUTE FROM {column} AT TIME ZONE 'UTC')::int / 15)";
    }

    public override DateOnly DayOf(string bucket, TimeZoneInfo zone) => DayOfUtcBucket(bucket, zone);

    private static string? IanaId(TimeZoneInfo zone)
    {
        if (zone.Equals(TimeZoneInfo.Utc))
        {
            return "UTC";
        }

        if (zone.HasIanaId)
        {
            return zone.Id;
        }

        return TimeZoneInfo.TryConvertWindowsIdToIanaId(zone.Id, out var iana) ? iana : null;
    }

    public override bool IsContention(Exception exception) =>
        (exception as PostgresException ?? exception.InnerException as PostgresException) is { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };

    public override bool IsDuplicateKey(Exception exception) =>
        (exception as PostgresException ?? exception.InnerException as PostgresException) is { SqlState: PostgresErrorCodes.UniqueViolation };

    public override void Configure(DbContextOptionsBuilder builder, StorageFile file = StorageFile.Main) =>
        builder.UseNpgsql(ConnectionString, o =>
        {
            if (file == StorageFile.Traces)
            {
                o.MigrationsHistoryTable(TraceHistoryTable);
            }
        });

    public override StewardDbContext CreateContext(DbContextOptions<StewardDbContext> options) => new PostgresStewardDbContext(options);

    public override Telemetry.TraceDbContext CreateTraceContext(DbContextOptions<Telemetry.TraceDbContext> options) => new PostgresTraceDbContext(options);

    public override async Task PrepareAsync(Func<CancellationToken, Task> migrateTraces, Func<CancellationToken, Task> migrate, CancellationToken cancellationToken)
    {
        try
        {
            // The main schema first: migrations create the database when it does not exist yet.
            await migrate(cancellationToken).ConfigureAwait(false);
            await migrateTraces(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException { InnerException: NpgsqlException })
        {
            var npgsql = ex as NpgsqlException ?? (NpgsqlException)ex.InnerException!;
            var reason = npgsql switch
            {
                PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } =>
                    "the server refused the user name or password. Check Username= and Password=",
                PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } =>
                    "the user may not create the database or its tables. Grant it CREATE, or create the database for it",
                PostgresException pg => $"PostgreSQL says: {pg.MessageText}",
                _ => $"the server cannot be reached ({npgsql.Message.Split('\n')[0].Trim()}). Check Host= and Port=, and that PostgreSQL is running",
            };
            throw new StorageException($"{Setting} is '{PostgresConnectionStrings.Describe(ConnectionString)}', which Steward cannot use: {reason}.", ex);
        }
    }

    private sealed class NoTurn : IDisposable
    {
        public static readonly NoTurn Instance = new();

        public void Dispose()
        {
        }
    }
}
