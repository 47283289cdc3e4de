using System.Data.Common;

namespace Steward.Storage;

/// <summary>
/// A statement a writer loop prepares once on its own connection and runs many times, its values given by position (the
/// order of the names it was made with), whatever order the names take in the SQL. Made by
/// <see cref="StorageBackend.PrepareWriter"/>; only the loop that owns the connection touches it.
/// </summary>
internal abstract class WriterStatement : IDisposable
{
    /// <summary>Sets the value of the <paramref name="index"/>th name (null stores NULL).</summary>
    public abstract void Set(int index, object? value);

    /// <summary>Runs the statement with the values set, in <paramref name="transaction"/>.</summary>
    public abstract void Execute(DbTransaction transaction);

    /// <summary>Runs the statement and returns its first row's first value (null for no row or NULL).</summary>
    public object? ExecuteScalar(DbTransaction transaction) => ExecuteRows(transaction) is [var first, ..] ? first[0] : null;

    /// <summary>Runs the statement and returns every row it gives (an upsert's RETURNING), each as its columns' values (NULL as null).</summary>
    public abstract IReadOnlyList<object?[]> ExecuteRows(DbTransaction transaction);

    public abstract void Dispose();
}

/// <summary>A <see cref="WriterStatement"/> as an ADO.NET command with named parameters (PostgreSQL: Npgsql binds them by position already).</summary>
internal sealed class CommandWriterStatement : WriterStatement
{
    private readonly DbCommand _command;
    private readonly DbParameterCollection _parameters;

    public CommandWriterStatement(StorageBackend backend, DbConnection connection, string sql, IReadOnlyList<string> names)
    {
        _command = connection.CreateCommand();
        _command.CommandText = sql;
        foreach (var name in names)
        {
            var parameter = _command.CreateParameter();
            // Named as written in the SQL, so a provider that looks names up finds each at the first try.
            parameter.ParameterName = "@" + name;
            _command.Parameters.Add(parameter);
        }

        _parameters = _command.Parameters;
        backend.Prepare(_command);
    }

    public override void Set(int index, object? value) => _parameters[index].Value = value ?? DBNull.Value;

    public override void Execute(DbTransaction transaction)
    {
        _command.Transaction = transaction;
        _command.ExecuteNonQuery();
    }

    public override IReadOnlyList<object?[]> ExecuteRows(DbTransaction transaction)
    {
        _command.Transaction = transaction;
        var rows = new List<object?[]>();
        using var reader = _command.ExecuteReader();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public override void Dispose() => _command.Dispose();
}
