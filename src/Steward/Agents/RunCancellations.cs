using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Steward.Storage;

namespace Steward.Agents;

/// <summary>What asking to cancel a run did.</summary>
public enum RunCancelOutcome
{
    /// <summary>No run has that id.</summary>
    NotFound,

    /// <summary>The run has ended already; there is nothing to cancel.</summary>
    NotRunning,

    /// <summary>This process runs it and was told to stop it.</summary>
    CancelledHere,

    /// <summary>
    /// Another process (another instance on the same database) runs it: the request is recorded in the database and that
    /// process cancels the run at its next look, within about <see cref="RunCancellations.PollInterval"/>.
    /// </summary>
    Requested,
}

/// <summary>
/// Cancelling a run wherever it runs. Several Steward instances share one database behind a load balancer, so a cancel
/// can arrive at an instance that is not running the run: it records the request on the run's row, and the instance that
/// owns the run (every process watches its own running runs while it has any) cancels it. Thread-safe.
/// </summary>
public sealed partial class RunCancellations : IAsyncDisposable
{
    /// <summary>How often a process with runs in progress looks for cancel requests made elsewhere.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private readonly AgentRunner _runner;
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _writeLock;
    private readonly ProcessLease _lease;
    private readonly TimeProvider _time;
    private readonly ILogger<RunCancellations> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private int _started;

    internal RunCancellations(
        AgentRunner runner, IDbContextFactory<StewardDbContext> contexts, StorageBackend writeLock, ProcessLease lease, TimeProvider time, ILogger<RunCancellations> logger)
    {
        _runner = runner;
        _contexts = contexts;
        _writeLock = writeLock;
        _lease = lease;
        _time = time;
        _logger = logger;
    }

    /// <summary>Cancels the run <paramref name="runId"/> here if this process runs it, else records the request for the process that does.</summary>
    public async Task<RunCancelOutcome> RequestAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (await _runner.CancelAsync(runId).ConfigureAwait(false))
        {
            return RunCancelOutcome.CancelledHere;
        }

        var now = _time.GetUtcNow().UtcDateTime;
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        int requested;
        using (await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            requested = await db.Runs.Where(r => r.Id == runId && r.Status == "Running")
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.CancelRequestedAt, r => r.CancelRequestedAt ?? now), cancellationToken).ConfigureAwait(false);
        }

        if (requested > 0)
        {
            return RunCancelOutcome.Requested;
        }

        return await db.Runs.AnyAsync(r => r.Id == runId, cancellationToken).ConfigureAwait(false) ? RunCancelOutcome.NotRunning : RunCancelOutcome.NotFound;
    }

    /// <summary>Starts watching for cancel requests of this process's runs. Idempotent.</summary>
    internal void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _loop = Task.Run(LoopAsync, CancellationToken.None);
        }
    }

    /// <summary>Cancels the runs of this process that someone asked, elsewhere, to cancel; returns how many.</summary>
    internal async Task<int> CancelRequestedAsync(CancellationToken cancellationToken)
    {
        if (_runner.InFlight == 0)
        {
            // Nothing to cancel: no query at all while this process is idle.
            return 0;
        }

        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var owner = _lease.Id;
        var ids = await db.Runs.AsNoTracking().Where(r => r.Owner == owner && r.CancelRequestedAt != null && r.Status == "Running")
            .Select(r => r.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        var cancelled = 0;
        foreach (var id in ids)
        {
            if (await _runner.CancelAsync(id).ConfigureAwait(false))
            {
                cancelled++;
            }
        }

        return cancelled;
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(PollInterval, _time, _stopping.Token).ConfigureAwait(false);
                await CancelRequestedAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or ObjectDisposedException)
            {
                // The next look tries again; a cancel request stays recorded until the run ends.
                LogWatchFailed(ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1221, Level = LogLevel.Warning, Message = "Looking for cancel requests of this process's runs failed; retrying shortly.")]
    private partial void LogWatchFailed(Exception exception);
}
