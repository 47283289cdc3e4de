using Microsoft.Data.Sqlite;

namespace Steward.Storage;

/// <summary>Where Steward keeps its data. Bound from <c>Steward:Storage</c>; <c>STEWARD_DB</c> sets <see cref="Database"/>.</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// A SQLite connection string (<c>Data Source=…</c>) or a plain file path, or an Npgsql connection string
    /// (<c>Host=…;Database=…</c>) for PostgreSQL, which several Steward instances can share. Default: <c>steward.db</c> in
    /// the user's data folder (<c>~/.local/share/steward</c> on Linux, <c>%LOCALAPPDATA%\steward</c> on Windows).
    /// </summary>
    public string? Database { get; set; }

    /// <summary>Which database <see cref="Database"/> names: PostgreSQL for an Npgsql connection string, else SQLite.</summary>
    public StorageProvider Provider => IsPostgres(Database) ? StorageProvider.Postgres : StorageProvider.Sqlite;

    /// <summary>Whether a setting is an Npgsql connection string (<c>Host=…</c>, <c>Server=…</c>) or a <c>postgres://</c> URL.</summary>
    internal static bool IsPostgres(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var trimmed = value.Trim();
        if (trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // A connection string whose keys name a server (Host=, Server=) and no file (Data Source=).
        var keys = trimmed.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2)[0].Trim()).ToArray();
        return keys.Any(k => k.Equals("Host", StringComparison.OrdinalIgnoreCase) || k.Equals("Server", StringComparison.OrdinalIgnoreCase))
            && !keys.Any(k => k.Equals("Data Source", StringComparison.OrdinalIgnoreCase) || k.Equals("DataSource", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The embedded trace store's SQLite file (or connection string). Default: beside <see cref="Database"/>, named
    /// after it with <c>-traces</c> (<c>steward-traces.db</c>). A file of its own, because SQLite has one writer per
    /// file: spans, several rows per run, would otherwise queue with the runs' own writes.
    /// </summary>
    public string? TraceDatabase { get; set; }

    /// <summary>
    /// The budget ledger's SQLite file (or connection string). Default: beside <see cref="Database"/>, named after it with
    /// <c>-budgets</c> (<c>steward-budgets.db</c>). A file of its own, because SQLite has one writer per file: every model
    /// call takes and settles budget holds, and queued with the runs' own writes those short transactions waited behind
    /// long ones (at 64 concurrent runs the ledger's share of the main file's writer was most of what budgets cost a run).
    /// </summary>
    public string? BudgetDatabase { get; set; }

    /// <summary>
    /// How long a write nobody waits for (a gateway run, stored behind its answer) may wait for others to be committed
    /// with it. Each commit writes the pages it changed (the runs, their sessions, messages, calls and the report rollups)
    /// to the log once, so runs committed together cost the store a fraction of runs committed one by one. It is also how
    /// much of the newest gateway traffic a crash of the process can lose. Default 50 ms: at one request in flight the
    /// gateway bench served 1.14x the requests at 0.94x the CPU per request against 10 ms (a commit per ~50 runs instead
    /// of ~10), and the same at 64; zero commits each at once.
    /// </summary>
    public TimeSpan WriteBehindDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The default data folder.</summary>
    public static string DefaultDataDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "steward");

    /// <summary>
    /// The connection string to use: for SQLite with the folder created if needed, for PostgreSQL the Npgsql connection
    /// string as given (a <c>postgres://</c> URL turned into one).
    /// </summary>
    /// <exception cref="StorageException">The setting cannot be used; the message says why and how to fix it.</exception>
    public string ResolveConnectionString()
    {
        var configured = !string.IsNullOrWhiteSpace(Database);
        var value = configured ? Database!.Trim() : Path.Combine(DefaultDataDirectory, "steward.db");
        if (Provider == StorageProvider.Postgres)
        {
            return Postgres.PostgresConnectionStrings.Normalize(value, "Steward:Storage:Database (STEWARD_DB)");
        }

        return Prepare(value, createFolder: !configured, "Steward:Storage:Database (STEWARD_DB)");
    }

    /// <summary>
    /// The trace store's connection string (see <see cref="TraceDatabase"/>), with the folder created if needed. On
    /// PostgreSQL the spans live in the main database: it has no single writer for them to queue behind.
    /// </summary>
    public string ResolveTraceConnectionString() => Provider == StorageProvider.Postgres
        ? ResolveConnectionString()
        : ResolveSiblingConnectionString(TraceDatabase, "-traces", "Steward:Storage:TraceDatabase");

    /// <summary>
    /// The budget ledger's connection string (see <see cref="BudgetDatabase"/>), with the folder created if needed. On
    /// PostgreSQL the counters live in the main database: writers run side by side there, under row locks.
    /// </summary>
    public string ResolveBudgetConnectionString() => Provider == StorageProvider.Postgres
        ? ResolveConnectionString()
        : ResolveSiblingConnectionString(BudgetDatabase, "-budgets", "Steward:Storage:BudgetDatabase");

    /// <summary>
    /// The connection string of a SQLite file of its own: <paramref name="configured"/> when set, else a file beside the
    /// main database named after it with <paramref name="suffix"/> (<c>steward-traces.db</c>, <c>steward-corpus.db</c>).
    /// <paramref name="setting"/> names the key in errors.
    /// </summary>
    /// <exception cref="StorageException">The configured path's folder does not exist, or it is the main database's file.</exception>
    public string ResolveSiblingConnectionString(string? configured, string suffix, string setting)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var own = Prepare(configured.Trim(), createFolder: false, setting);
            if (Provider == StorageProvider.Sqlite && SameFile(own, ResolveConnectionString()))
            {
                // The main database's migrations drop the tables that moved to a file of their own.
                throw new StorageException(
                    $"{setting} is the main database's file ('{new SqliteConnectionStringBuilder(own).DataSource}'). It must be a file of its own: " +
                    "point it at another file, or remove the setting to use the default beside the main database.");
            }

            return own;
        }

        // On PostgreSQL, a SQLite sibling (the corpus) sits in the default data folder.
        var main = new SqliteConnectionStringBuilder(Provider == StorageProvider.Postgres
            ? Prepare(Path.Combine(DefaultDataDirectory, "steward.db"), createFolder: true, setting)
            : ResolveConnectionString());
        if (main.DataSource is { Length: > 0 } data && data != ":memory:" && main.Mode != SqliteOpenMode.Memory)
        {
            main.DataSource = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(data)) ?? "",
                Path.GetFileNameWithoutExtension(data) + suffix + Path.GetExtension(data));
        }

        return main.ToString();
    }

    private static bool SameFile(string left, string right)
    {
        var (a, b) = (new SqliteConnectionStringBuilder(left).DataSource, new SqliteConnectionStringBuilder(right).DataSource);
        return a is { Length: > 0 } && a != ":memory:" && string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
    }

    /// <summary>
    /// A connection string from a path or connection string: pooled, waiting for locks. The default data folder is
    /// created when missing; a configured path's folder must exist (a mistyped one is an error, not a new folder).
    /// </summary>
    /// <exception cref="StorageException">The configured path's folder does not exist.</exception>
    private static string Prepare(string value, bool createFolder, string setting)
    {
        var builder = value.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(value)
            : new SqliteConnectionStringBuilder { DataSource = value };
        if (builder.DataSource is { Length: > 0 } file && file != ":memory:" && builder.Mode != SqliteOpenMode.Memory
            && Path.GetDirectoryName(Path.GetFullPath(file)) is { Length: > 0 } folder && !Directory.Exists(folder))
        {
            if (!createFolder)
            {
                throw new StorageException(
                    $"{setting} is '{file}', but the folder '{folder}' does not exist. Create the folder, or point the setting at an existing one.");
            }

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

    /// <summary>The database file, or the PostgreSQL host and database (never the password), for display.</summary>
    public string DescribeLocation() => Provider == StorageProvider.Postgres
        ? Postgres.PostgresConnectionStrings.Describe(ResolveConnectionString())
        : new SqliteConnectionStringBuilder(ResolveConnectionString()).DataSource;
}

/// <summary>The database Steward keeps its data in.</summary>
public enum StorageProvider
{
    /// <summary>A SQLite file: one machine, one writer at a time.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database: several Steward instances may share it.</summary>
    Postgres,
}

/// <summary>Steward's database cannot be used: the message names the file, what is wrong and how to fix it.</summary>
public sealed class StorageException : Exception
{
    public StorageException() { }

    public StorageException(string message) : base(message) { }

    public StorageException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Checks <see cref="StorageOptions"/> once, at start.</summary>
internal sealed class StorageOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<StorageOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, StorageOptions options) =>
        options.WriteBehindDelay < TimeSpan.Zero || options.WriteBehindDelay > TimeSpan.FromSeconds(1)
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Steward:Storage:WriteBehindDelay is {options.WriteBehindDelay}; it must be between 00:00:00 and 00:00:01 (0 commits each gateway run at once).")
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
