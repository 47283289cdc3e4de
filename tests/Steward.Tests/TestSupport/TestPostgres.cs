using Npgsql;

namespace Steward.Tests.TestSupport;

/// <summary>
/// The PostgreSQL server the tests use: the Npgsql connection string in <c>STEWARD_TEST_POSTGRES</c> (a user that may
/// create databases; <c>.ci/start-postgres</c> starts one). Each test gets a database of its own. Without the variable
/// a PostgreSQL test is skipped, or, with <c>CI=true</c>, fails.
/// </summary>
public static class TestPostgres
{
    public const string Variable = "STEWARD_TEST_POSTGRES";

    /// <summary>The providers a storage test runs against, as theory data.</summary>
    public static TheoryData<string> Providers => new("sqlite", "postgres");

    /// <summary>The server's connection string, or skips (fails in CI) when none is configured.</summary>
    public static string Server
    {
        get
        {
            if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } server)
            {
                return server;
            }

            var message = $"{Variable} is not set: start PostgreSQL (.ci/start-postgres prints a connection string) and set it to run the PostgreSQL tests.";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message);
            }

            Assert.Skip(message);
            return "";
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var server = Server;
        var name = "steward_t_" + Guid.NewGuid().ToString("N")[..20];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// The <c>Steward:Storage:Database</c> value for <paramref name="provider"/>: a new PostgreSQL database, or
    /// <see langword="null"/> for SQLite (the engine's own file in its folder).
    /// </summary>
    public static async Task<string?> DatabaseForAsync(string provider) => provider switch
    {
        "sqlite" => null,
        "postgres" => await CreateDatabaseAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "sqlite or postgres"),
    };
}
