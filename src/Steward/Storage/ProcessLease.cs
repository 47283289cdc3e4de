using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Steward.Storage;

/// <summary>
/// This process's lease in the database, and the sweep every live process runs. The lease is a row the process renews
/// every third of <see cref="Budgets.BudgetOptions.ReservationTimeout"/>; a process is gone when its lease has expired,
/// or at once when it ran on this machine and its process id is no longer running. Every sweep (at start, then at each
/// renewal) marks the runs of gone processes <see cref="Agents.RunStatus.Interrupted"/> (only runs still
/// <c>Running</c>: a run that finished meanwhile keeps its status), records their pending evaluations as skipped, and
/// releases their budget holds, so a killed process's share comes back within the timeout plus one sweep, with no
/// restart. A live process is never mistaken for a gone one: its identity is the lease row, not a process start time
/// read from the system (which jitters). Thread-safe.
/// </summary>
internal sealed partial class ProcessLease : IAsyncDisposable
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _writeLock;
    private readonly Budgets.BudgetLedger _ledger;
    private readonly TimeProvider _time;
    private readonly ILogger<ProcessLease> _logger;
    private readonly TimeSpan _timeout;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private int _started;

    public ProcessLease(
        IDbContextFactory<StewardDbContext> contexts, StorageBackend writeLock, Budgets.BudgetLedger ledger, IOptions<Budgets.BudgetOptions> budgets,
        TimeProvider time, ILogger<ProcessLease> logger)
    {
        _contexts = contexts;
        _writeLock = writeLock;
        _ledger = ledger;
        _time = time;
        _logger = logger;
        _timeout = budgets.Value.ReservationTimeout;
        Id = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    }

    /// <summary>This lease's id: what runs and budget holds of this process carry as their owner.</summary>
    public string Id { get; }

    /// <summary>How often the lease is renewed and the sweep runs.</summary>
    public TimeSpan SweepInterval => _timeout / 3;

    /// <summary>Takes the lease, sweeps once, and starts renewing and sweeping in the background. Idempotent.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        await RenewAsync(cancellationToken).ConfigureAwait(false);
        await SweepAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    /// <summary>Renews the lease and sweeps now (what the background loop does at each interval).</summary>
    internal async Task<SweepResult> RenewAndSweepAsync(CancellationToken cancellationToken)
    {
        await RenewAsync(cancellationToken).ConfigureAwait(false);
        return await SweepAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(SweepInterval, _time, _stopping.Token).ConfigureAwait(false);
                await RenewAndSweepAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DbUpdateException or System.Data.Common.DbException or InvalidOperationException or ObjectDisposedException or StorageException)
            {
                // The next interval tries again; a lease not renewed for a whole timeout is what other processes wait for.
                LogSweepFailed(ex);
            }
        }
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        var renewed = await db.ProcessLeases.Where(l => l.Id == Id)
            .ExecuteUpdateAsync(s => s.SetProperty(l => l.RenewedAt, now).SetProperty(l => l.ExpiresAt, now + _timeout), cancellationToken).ConfigureAwait(false);
        if (renewed == 0)
        {
            db.ProcessLeases.Add(new ProcessLeaseRecord
            {
                Id = Id, Machine = Environment.MachineName, ProcessId = Environment.ProcessId, StartedAt = now, RenewedAt = now, ExpiresAt = now + _timeout,
            });
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<SweepResult> SweepAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        int interrupted, skipped;
        await using (var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            var others = await db.ProcessLeases.AsNoTracking().Where(l => l.Id != Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            var gone = others.Where(l => l.ExpiresAt < now || (l.Machine == Environment.MachineName && !IsRunning(l.ProcessId))).Select(l => l.Id).ToArray();
            using var _ = await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
            if (gone.Length > 0)
            {
                await db.ProcessLeases.Where(l => gone.Contains(l.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            }

            // Only runs still Running: a run that ends between the read above and this write keeps the status it got.
            interrupted = await RunningOfGone(db, Id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, "Interrupted")
                    .SetProperty(r => r.EndedAt, r => r.EndedAt ?? now)
                    .SetProperty(r => r.ErrorKind, "interrupted")
                    .SetProperty(r => r.Error, "The process running this request stopped before it finished."), cancellationToken).ConfigureAwait(false);
            skipped = await PendingEvaluationsOfGone(db, Id)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.EvaluationStatus, "skipped"), cancellationToken).ConfigureAwait(false);
        }

        var released = await _ledger.ExpireAsync(Id, cancellationToken).ConfigureAwait(false);
        if (interrupted > 0)
        {
            LogInterrupted(interrupted);
        }

        if (released > 0)
        {
            LogReleased(released);
        }

        return new SweepResult(interrupted, skipped, released);
    }

    /// <summary>Runs still running whose owner holds no lease: what a sweep marks interrupted.</summary>
    internal static IQueryable<RunRecord> RunningOfGone(StewardDbContext db, string self) =>
        db.Runs.Where(r => r.Status == "Running" && r.Owner != self && !db.ProcessLeases.Select(l => l.Id).Contains(r.Owner));

    /// <summary>
    /// Runs whose evaluation is pending and whose owner holds no lease: what a sweep records as skipped. Read through the
    /// partial index of pending evaluations (migration PendingEvaluationsByOwner), not by reading every run.
    /// </summary>
    internal static IQueryable<RunRecord> PendingEvaluationsOfGone(StewardDbContext db, string self) =>
        db.Runs.Where(r => r.EvaluationStatus == "pending" && r.Owner != self && !db.ProcessLeases.Select(l => l.Id).Contains(r.Owner));

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops sweeping and gives the lease up, so other processes need not wait for it to expire. Call it once this
    /// process's runs have ended (the runner stops them first), before the services are disposed.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await StopLoopAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _started) == 0)
        {
            return;
        }

        try
        {
            await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            using var _ = await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
            await db.ProcessLeases.Where(l => l.Id == Id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or StorageException)
        {
            // The lease then expires on its own.
            LogSweepFailed(ex);
        }
    }

    private async Task StopLoopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
    }

    /// <summary>Stops sweeping. The lease row stays until it expires, unless <see cref="StopAsync"/> gave it up.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopLoopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "{Count} runs were left unfinished by a stopped process and are now marked Interrupted.")]
    private partial void LogInterrupted(int count);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "{Count} budget holds of stopped processes were released.")]
    private partial void LogReleased(int count);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Warning, Message = "Renewing this process's lease or sweeping stopped processes failed; retrying at the next interval.")]
    private partial void LogSweepFailed(Exception exception);
}

/// <summary>What one sweep found: runs marked interrupted, pending evaluations skipped, budget holds released.</summary>
internal sealed record SweepResult(int InterruptedRuns, int SkippedEvaluations, int ReleasedHolds);
