using Npgsql;

namespace Steward.Storage.Postgres;

/// <summary>Reads the PostgreSQL setting: an Npgsql connection string, or a <c>postgres://user:password@host:port/db</c> URL.</summary>
internal static class PostgresConnectionStrings
{
    /// <summary>The Npgsql connection string, checked.</summary>
    /// <exception cref="StorageException">The value is not a usable connection string; the message names <paramref name="setting"/>.</exception>
    public static string Normalize(string value, string setting)
    {
        try
        {
            var builder = value.Contains("://", StringComparison.Ordinal) ? FromUrl(value) : new NpgsqlConnectionStringBuilder(value);
            if (string.IsNullOrWhiteSpace(builder.Host))
            {
                throw new StorageException($"{setting} names a PostgreSQL database but no host. Add Host=… (e.g. Host=localhost;Database=steward;Username=steward).");
            }

            // Several instances and their background loops share the server: a wait for a connection is better than a failure.
            if (builder.Timeout < 30)
            {
                builder.Timeout = 30;
            }

            // The writer loops reuse a few statements on every run: let Npgsql prepare them server-side.
            if (builder.MaxAutoPrepare == 0)
            {
                builder.MaxAutoPrepare = 64;
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException ex)
        {
            // Npgsql's message names the bad keyword; the value itself may hold a password, so it is not repeated.
            throw new StorageException($"{setting} is not a valid PostgreSQL connection string: {ex.Message.Split('\n')[0].Trim()} Use Host=…;Database=…;Username=…;Password=….", ex);
        }
        catch (UriFormatException ex)
        {
            throw new StorageException($"{setting} is not a valid postgres:// URL. Use postgres://user:password@host:port/database, or Host=…;Database=….", ex);
        }
    }

    /// <summary>Host, port and database, never the user's password: what Steward shows as "where the data is".</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgres://{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string value)
    {
        var uri = new Uri(value);
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host };
        if (uri.Port > 0)
        {
            builder.Port = uri.Port;
        }

        var database = uri.AbsolutePath.Trim('/');
        if (database.Length > 0)
        {
            builder.Database = Uri.UnescapeDataString(database);
        }

        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }

        return builder;
    }
}
