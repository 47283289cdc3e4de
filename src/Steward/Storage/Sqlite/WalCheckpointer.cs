using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Steward.Storage;

/// <summary>
/// Copies the write-ahead log back into the database file in the background. Left to SQLite, the commit that happens
/// to fill the log past 1,000 pages does this copy (and its fsyncs) itself, so every few hundred runs one run's storage
/// write takes milliseconds, with SQLite's single writer held meanwhile: that was most of a run's p99 with an instant
/// model. A passive checkpoint here never blocks writers or readers; SQLite's own, at a much larger size, stays as a
/// safety net for a process that writes without this loop.
/// </summary>
internal sealed partial class WalCheckpointer : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger<WalCheckpointer> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _starting = new();
    private Task? _loop;

    public WalCheckpointer(IOptions<StorageOptions> options, TimeProvider time, ILogger<WalCheckpointer> logger)
    {
        _connectionString = options.Value.ResolveConnectionString();
        _time = time;
        _logger = logger;
    }

    /// <summary>Starts the loop (once; later calls do nothing).</summary>
    public void Start()
    {
        lock (_starting)
        {
            if (!_stopping.IsCancellationRequested)
            {
                _loop ??= Task.Run(LoopAsync);
            }
        }
    }

    private async Task LoopAsync()
    {
        SqliteConnection? connection = null;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await Task.Delay(Interval, _time, _stopping.Token).ConfigureAwait(false);
                try
                {
                    connection ??= await OpenAsync().ConfigureAwait(false);
                    using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                    await command.ExecuteNonQueryAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (SqliteException ex)
                {
                    LogCheckpointFailed(ex);
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            connection?.Dispose();
        }
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(_stopping.Token).ConfigureAwait(false);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = SqliteConnectionSettings.Pragmas;
        await pragma.ExecuteNonQueryAsync(_stopping.Token).ConfigureAwait(false);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_starting)
        {
            _stopping.Cancel();
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1403, Level = LogLevel.Warning, Message = "A background WAL checkpoint failed; the next one will retry.")]
    private partial void LogCheckpointFailed(Exception exception);
}
