using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Steward.Storage.Sqlite;

/// <summary>
/// A <see cref="WriterStatement"/> prepared on the connection's native handle and bound by index. Microsoft.Data.Sqlite
/// binds every parameter by name on every execution (a UTF-8 copy of the name, then SQLite's
/// <c>sqlite3_bind_parameter_index</c>, which scans the statement's names from the first), so a multi-row insert of
/// N parameters cost N²/2 name comparisons: a 64-run statement of 1,920 parameters about 1.8 million, a tenth of the
/// gateway's CPU. Here each name is looked up once, when the statement is prepared. Values take the types
/// Microsoft.Data.Sqlite gives them (integers and flags as INTEGER, text as TEXT, doubles as REAL), and failures come as
/// the same <see cref="SqliteException"/>s. The statement runs inside whatever transaction the connection has open.
/// </summary>
internal sealed class SqliteWriterStatement : WriterStatement
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly int[] _indexes;

    // An empty text as a NUL-terminated UTF-8 string: an empty span is bound from a null pointer, which SQLite stores as NULL.
    private static readonly byte[] EmptyText = [0];

    // Text is encoded to UTF-8 here, into one buffer the statement reuses: bound as UTF-16, SQLite copies it, then converts
    // it to the database's UTF-8 byte by byte, each in memory it allocates (a twentieth of the gateway's CPU).
    private byte[] _utf8 = new byte[512];

    public SqliteWriterStatement(SqliteConnection connection, string sql, IReadOnlyList<string> names)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v3(_db, sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement, out var tail));
        if (!string.IsNullOrWhiteSpace(tail))
        {
            _statement.Dispose();
            throw new ArgumentException("A writer statement is one SQL statement.", nameof(sql));
        }

        _indexes = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            _indexes[i] = raw.sqlite3_bind_parameter_index(_statement, "@" + names[i]);
            if (_indexes[i] == 0)
            {
                _statement.Dispose();
                throw new ArgumentException($"The statement has no parameter @{names[i]}.", nameof(names));
            }
        }
    }

    public override void Set(int index, object? value)
    {
        var at = _indexes[index];
        var rc = value switch
        {
            null or DBNull => raw.sqlite3_bind_null(_statement, at),
            string s => BindText(at, s),
            long l => raw.sqlite3_bind_int64(_statement, at, l),
            int n => raw.sqlite3_bind_int64(_statement, at, n),
            bool b => raw.sqlite3_bind_int64(_statement, at, b ? 1 : 0),
            double d => raw.sqlite3_bind_double(_statement, at, d),
            float f => raw.sqlite3_bind_double(_statement, at, f),
            short n => raw.sqlite3_bind_int64(_statement, at, n),
            byte n => raw.sqlite3_bind_int64(_statement, at, n),
            uint n => raw.sqlite3_bind_int64(_statement, at, n),
            byte[] bytes => raw.sqlite3_bind_blob(_statement, at, bytes),
            // Every value the writers store is made by the backend's Id/Date/Flag or is one of the above; another type would
            // be stored in a format EF Core might not read back, so it is refused rather than guessed.
            _ => throw new NotSupportedException($"A writer statement does not store {value.GetType().Name} values."),
        };
        Check(rc);
    }

    private int BindText(int at, string text)
    {
        if (text.Length == 0)
        {
            return raw.sqlite3_bind_text(_statement, at, utf8z.FromSpan(EmptyText));
        }

        var most = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (most > MaxKeptBuffer)
        {
            // A rare long text (an answer of a long run): its own buffer, so the statement does not keep it.
            return raw.sqlite3_bind_text(_statement, at, Encoding.UTF8.GetBytes(text));
        }

        if (most > _utf8.Length)
        {
            _utf8 = new byte[Math.Min(MaxKeptBuffer, Math.Max(most, _utf8.Length * 2))];
        }

        // SQLite copies the bytes (SQLITE_TRANSIENT), so the buffer is free again once this returns.
        var length = Encoding.UTF8.GetBytes(text, _utf8);
        return raw.sqlite3_bind_text(_statement, at, _utf8.AsSpan(0, length));
    }

    private const int MaxKeptBuffer = 64 * 1024;

    public override void Execute(DbTransaction transaction)
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            while (rc == raw.SQLITE_ROW)
            {
                rc = raw.sqlite3_step(_statement);
            }

            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    public override IReadOnlyList<object?[]> ExecuteRows(DbTransaction transaction)
    {
        try
        {
            var rows = new List<object?[]>();
            int rc;
            while ((rc = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW)
            {
                var row = new object?[raw.sqlite3_column_count(_statement)];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = Column(i);
                }

                rows.Add(row);
            }

            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }

            return rows;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    private object? Column(int i) => raw.sqlite3_column_type(_statement, i) switch
    {
        raw.SQLITE_NULL => null,
        raw.SQLITE_INTEGER => raw.sqlite3_column_int64(_statement, i),
        raw.SQLITE_FLOAT => raw.sqlite3_column_double(_statement, i),
        raw.SQLITE_BLOB => raw.sqlite3_column_blob(_statement, i).ToArray(),
        _ => raw.sqlite3_column_text(_statement, i).utf8_to_string(),
    };

    private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _db);

    public override void Dispose() => _statement.Dispose();
}
