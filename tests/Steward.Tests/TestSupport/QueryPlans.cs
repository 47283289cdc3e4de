using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Steward.Storage;

namespace Steward.Tests.TestSupport;

/// <summary>What SQLite plans for a query the product builds (EXPLAIN QUERY PLAN), one line per step.</summary>
internal static partial class QueryPlans
{
    public static async Task<IReadOnlyList<string>> ExplainAsync(TestEngine engine, string queryString, CancellationToken cancellationToken)
    {
        // ToQueryString declares its parameters first (".param set"); the statement is what follows them.
        var statement = queryString[queryString.IndexOf("SELECT", StringComparison.Ordinal)..];
        using var connection = (SqliteConnection)engine.Get<StorageBackend>().CreateConnection();
        await connection.OpenAsync(cancellationToken);
        return await ExplainAsync(connection, statement, cancellationToken);
    }

    /// <summary>The plan of <paramref name="statement"/> on <paramref name="connection"/> (with its triggers' plans, when the connection asks for them).</summary>
    public static async Task<IReadOnlyList<string>> ExplainAsync(SqliteConnection connection, string statement, CancellationToken cancellationToken)
    {
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + statement;
        foreach (var name in Parameter().Matches(statement).Select(m => m.Value).Distinct())
        {
            explain.Parameters.AddWithValue(name, "someone");
        }

        var steps = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // A step with no detail (a foreign key's cascade) has none to show.
            steps.Add(reader.IsDBNull(3) ? "" : reader.GetString(3));
        }

        return steps;
    }

    [GeneratedRegex(@"@\w+")]
    private static partial Regex Parameter();
}
