using Microsoft.Data.Sqlite;

namespace Steward.Storage;

/// <summary>Where Steward keeps its data. Bound from <c>Steward:Storage</c>; <c>STEWARD_DB</c> sets <see cref="Database"/>.</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// A SQLite connection string (<c>Data Source=…</c>) or a plain file path. Default: <c>steward.db</c> in the
    /// user's data folder (<c>~/.local/share/steward</c> on Linux, <c>%LOCALAPPDATA%\steward</c> on Windows).
    /// </summary>
    public string? Database { get; set; }

    /// <summary>
    /// The embedded trace store's SQLite file (or connection string). Default: beside <see cref="Database"/>, named
    /// after it with <c>-traces</c> (<c>steward-traces.db</c>). A file of its own, because SQLite has one writer per
    /// file: spans, several rows per run, would otherwise queue with the runs' own writes.
    /// </summary>
    public string? TraceDatabase { get; set; }

    /// <summary>The default data folder.</summary>
    public static string DefaultDataDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "steward");

    /// <summary>The SQLite connection string to use, with the folder created if needed.</summary>
    /// <exception cref="ArgumentException">The setting names a database Steward cannot use yet.</exception>
    public string ResolveConnectionString()
    {
        var value = string.IsNullOrWhiteSpace(Database) ? Path.Combine(DefaultDataDirectory, "steward.db") : Database.Trim();
        if (value.StartsWith("Host=", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgres", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("STEWARD_DB names a PostgreSQL database, which this version does not support yet; use a SQLite file path.");
        }

        return Prepare(value);
    }

    /// <summary>The trace store's SQLite connection string (see <see cref="TraceDatabase"/>), with the folder created if needed.</summary>
    public string ResolveTraceConnectionString() => ResolveSiblingConnectionString(TraceDatabase, "-traces");

    /// <summary>
    /// The connection string of a SQLite file of its own: <paramref name="configured"/> when set, else a file beside the
    /// main database named after it with <paramref name="suffix"/> (<c>steward-traces.db</c>, <c>steward-corpus.db</c>).
    /// </summary>
    public string ResolveSiblingConnectionString(string? configured, string suffix)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Prepare(configured.Trim());
        }

        var main = new SqliteConnectionStringBuilder(ResolveConnectionString());
        if (main.DataSource is { Length: > 0 } data && data != ":memory:" && main.Mode != SqliteOpenMode.Memory)
        {
            main.DataSource = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(data)) ?? "",
                Path.GetFileNameWithoutExtension(data) + suffix + Path.GetExtension(data));
        }

        return main.ToString();
    }

    /// <summary>A connection string from a path or connection string: folder created, pooled, waiting for locks.</summary>
    private static string Prepare(string value)
    {
        var builder = value.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(value)
            : new SqliteConnectionStringBuilder { DataSource = value };
        if (builder.DataSource is { Length: > 0 } file && file != ":memory:" && Path.GetDirectoryName(Path.GetFullPath(file)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }

        // Several processes (web app and CLI) share the file: wait for a lock instead of failing at once.
        if (builder.DefaultTimeout < 30)
        {
            builder.DefaultTimeout = 30;
        }

        builder.Pooling = true;
        return builder.ToString();
    }

    /// <summary>The database file, for display.</summary>
    public string DescribeLocation() => new SqliteConnectionStringBuilder(ResolveConnectionString()).DataSource;
}
