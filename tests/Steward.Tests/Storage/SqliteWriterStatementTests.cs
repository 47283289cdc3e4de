using Microsoft.Data.Sqlite;
using Steward.Storage.Sqlite;

namespace Steward.Tests.Storage;

/// <summary>
/// The writers' SQLite statements bind by index on the native statement instead of through Microsoft.Data.Sqlite: what
/// they store must be exactly what Microsoft.Data.Sqlite stores for the same values (EF Core reads the rows back), each
/// value must reach the parameter its name says whatever order the names take in the SQL, and failures must be the same
/// <see cref="SqliteException"/>s the writers tell apart (contention, duplicate key).
/// </summary>
public sealed class SqliteWriterStatementTests : IDisposable
{
    private const string Insert = "INSERT INTO t (\"Id\", \"V\") VALUES (@Id, @V)";
    private readonly SqliteConnection _connection = new("Data Source=:memory:");

    public SqliteWriterStatementTests()
    {
        _connection.Open();
        using var create = _connection.CreateCommand();
        create.CommandText = "CREATE TABLE t (\"Id\" INTEGER PRIMARY KEY, \"V\", \"W\" TEXT)";
        create.ExecuteNonQuery();
    }

    public static TheoryData<string, object?> Values() => new()
    {
        { "empty text", "" },
        { "text", "Say hello." },
        { "non-ASCII text", "naïve café — 東京 𝄞 ✓" },
        { "long text", new string('x', 100_000) + "é" },
        { "null", null },
        { "DBNull", DBNull.Value },
        { "long", 9_007_199_254_740_993L },
        { "int", -42 },
        { "true", true },
        { "false", false },
        { "double", 0.1 + 0.2 },
        { "blob", new byte[] { 0, 1, 255 } },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void StoresAValueAsMicrosoftDataSqliteDoes(string kind, object? value)
    {
        using (var transaction = _connection.BeginTransaction())
        {
            using (var reference = _connection.CreateCommand())
            {
                reference.Transaction = transaction;
                reference.CommandText = Insert;
                reference.Parameters.AddWithValue("@Id", 1);
                reference.Parameters.AddWithValue("@V", value ?? DBNull.Value);
                reference.ExecuteNonQuery();
            }

            using var statement = new SqliteWriterStatement(_connection, Insert, ["Id", "V"]);
            statement.Set(0, 2L);
            statement.Set(1, value);
            statement.Execute(transaction);
            transaction.Commit();
        }

        var stored = Read("SELECT typeof(\"V\") || ':' || quote(\"V\") FROM t ORDER BY \"Id\"");
        Assert.True(stored.Count == 2, kind);
        Assert.Equal(stored[0], stored[1]);
    }

    [Fact]
    public void BindsEachValueToItsNameWhereverTheNameIsInTheSql()
    {
        using var transaction = _connection.BeginTransaction();
        using var insert = new SqliteWriterStatement(_connection, "INSERT INTO t (\"Id\", \"V\", \"W\") VALUES (@Id, @V, @W)", ["Id", "V", "W"]);
        insert.Set(0, 7L);
        insert.Set(1, "v");
        insert.Set(2, "w");
        insert.Execute(transaction);

        // The key is the last name in the SQL and the first value given, as in the writer's update of a run.
        using var update = new SqliteWriterStatement(_connection, "UPDATE t SET \"W\" = @W, \"V\" = @V WHERE \"Id\" = @Id", ["Id", "V", "W"]);
        update.Set(0, 7L);
        update.Set(1, "new v");
        update.Set(2, "new w");
        update.Execute(transaction);
        transaction.Commit();

        Assert.Equal(["7|new v|new w"], Read("SELECT \"Id\" || '|' || \"V\" || '|' || \"W\" FROM t"));
    }

    [Fact]
    public void ReusedStatementStoresEveryExecution()
    {
        using var transaction = _connection.BeginTransaction();
        using var statement = new SqliteWriterStatement(_connection, Insert, ["Id", "V"]);
        for (var i = 1; i <= 3; i++)
        {
            statement.Set(0, i);
            statement.Set(1, "row " + i);
            statement.Execute(transaction);
        }

        transaction.Commit();
        Assert.Equal(["row 1", "row 2", "row 3"], Read("SELECT \"V\" FROM t ORDER BY \"Id\""));
    }

    [Fact]
    public void DuplicateKeyFailsWithSqlitesOwnErrorAndTheStatementStaysUsable()
    {
        using var transaction = _connection.BeginTransaction();
        using var statement = new SqliteWriterStatement(_connection, Insert, ["Id", "V"]);
        statement.Set(0, 1L);
        statement.Set(1, "first");
        statement.Execute(transaction);

        statement.Set(1, "again");
        var failure = Assert.Throws<SqliteException>(() => statement.Execute(transaction));
        Assert.Equal(19, failure.SqliteErrorCode);
        Assert.Equal(1555, failure.SqliteExtendedErrorCode);

        statement.Set(0, 2L);
        statement.Execute(transaction);
        transaction.Commit();
        Assert.Equal(["first", "again"], Read("SELECT \"V\" FROM t ORDER BY \"Id\""));
    }

    [Fact]
    public void ScalarReadsTheFirstValueOrNull()
    {
        using var transaction = _connection.BeginTransaction();
        using var max = new SqliteWriterStatement(_connection, "SELECT MAX(\"Id\") FROM t WHERE \"V\" = @V", ["V"]);
        max.Set(0, "none");
        Assert.Null(max.ExecuteScalar(transaction));

        using var insert = new SqliteWriterStatement(_connection, Insert, ["Id", "V"]);
        insert.Set(0, 5L);
        insert.Set(1, "x");
        insert.Execute(transaction);
        max.Set(0, "x");
        Assert.Equal(5L, max.ExecuteScalar(transaction));
    }

    [Fact]
    public void RowsReturnedByAnUpsertAreReadWithTheirTypes()
    {
        using var transaction = _connection.BeginTransaction();
        using var upsert = new SqliteWriterStatement(_connection,
            "INSERT INTO t (\"Id\", \"V\") VALUES (@a, @v), (@b, NULL) ON CONFLICT (\"Id\") DO UPDATE SET \"V\" = excluded.\"V\" RETURNING \"Id\", \"V\"",
            ["a", "v", "b"]);
        upsert.Set(0, 1L);
        upsert.Set(1, "one");
        upsert.Set(2, 2L);
        var rows = upsert.ExecuteRows(transaction).OrderBy(r => (long)r[0]!).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal([1L, "one"], rows[0]);
        Assert.Equal([2L, null], rows[1]);

        // Reset after reading: the same statement runs again, now updating the rows it inserted.
        upsert.Set(1, "uno");
        Assert.Equal(2, upsert.ExecuteRows(transaction).Count);
        transaction.Commit();
        Assert.Equal(["uno", ""], Read("SELECT COALESCE(\"V\", '') FROM t ORDER BY \"Id\""));
    }

    [Fact]
    public void NameMissingFromTheSqlIsRefusedWhenPrepared() =>
        Assert.Throws<ArgumentException>(() => new SqliteWriterStatement(_connection, Insert, ["Id", "Value"]));

    private List<string> Read(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    public void Dispose() => _connection.Dispose();
}
