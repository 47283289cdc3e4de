using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>
/// Writes the events of the runs this instance executes to the shared <see cref="RunStreamLog"/> (PostgreSQL), a batch
/// at a time, so the events of one run reach another instance within about <see cref="FlushInterval"/>; deletes a run's
/// events once its retention is over, and purges those of stopped instances. The queue is bounded: when the database
/// falls behind, events are dropped and readers elsewhere see a gap event, never unbounded memory. Thread-safe.
/// </summary>
internal sealed partial class RunEventRelay(RunStreamLog log, IOptions<ApiOptions> options, TimeProvider time, ILogger<RunEventRelay> logger) : BackgroundService
{
    /// <summary>The name of the row that says a run's stream is complete (its quality included); never sent to clients.</summary>
    public const string EndMarker = "end";

    /// <summary>How long events wait to be written together.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    private const int MaxQueued = 20_000;
    private const int MaxBatch = 1_000;

    private readonly Channel<RunStreamEvent> _queue = Channel.CreateBounded<RunStreamEvent>(
        new BoundedChannelOptions(MaxQueued) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private DateTimeOffset _lastPurge;

    private readonly Channel<Guid> _forget = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Whether events go through the database (it is shared by several instances).</summary>
    public bool IsShared => log.IsShared;

    /// <summary>Queues an event for the database; dropped (readers see a gap) when the queue is full.</summary>
    public void Publish(RunStreamEvent e)
    {
        if (!_queue.Writer.TryWrite(e))
        {
            LogDropped(e.RunId);
        }
    }

    /// <summary>Deletes a run's events from the database (its retention is over).</summary>
    public void Forget(Guid runId)
    {
        if (IsShared)
        {
            _forget.Writer.TryWrite(runId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!IsShared)
        {
            return;
        }

        _lastPurge = time.GetUtcNow();
        var batch = new List<RunStreamEvent>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                // A moment's wait gathers the deltas of every run into one write.
                await Task.Delay(FlushInterval, time, stoppingToken).ConfigureAwait(false);
                await FlushAsync(batch, stoppingToken).ConfigureAwait(false);
                await HousekeepAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is queued is written below, so the last events of runs cancelled by the stop still reach others.
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await FlushAsync(batch, drain.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Data.Common.DbException or InvalidOperationException or Steward.Storage.StorageException)
        {
            LogWriteFailed(ex);
        }
    }

    private async Task FlushAsync(List<RunStreamEvent> batch, CancellationToken cancellationToken)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var e))
            {
                batch.Add(e);
            }

            if (batch.Count == 0)
            {
                return;
            }

            try
            {
                await log.AppendAsync(batch, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or Steward.Storage.StorageException)
            {
                // These events are lost to other instances (their readers see a gap); this instance's own streams have them.
                LogWriteFailed(ex);
            }
        }
    }

    private async Task HousekeepAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (_forget.Reader.TryRead(out var id))
            {
                await log.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
            }

            var now = time.GetUtcNow();
            if (now - _lastPurge > TimeSpan.FromMinutes(1))
            {
                _lastPurge = now;
                // Rows of instances that stopped before deleting their own: twice the retention is past any reader's use.
                await log.PurgeAsync(now - 2 * options.Value.EventRetention - TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            LogWriteFailed(ex);
        }
    }

    [LoggerMessage(EventId = 4111, Level = LogLevel.Warning, Message = "An event of run {RunId} was not shared with other instances: the queue to the database is full.")]
    private partial void LogDropped(Guid runId);

    [LoggerMessage(EventId = 4112, Level = LogLevel.Warning, Message = "Writing run events to the shared database failed; other instances' streams will show a gap.")]
    private partial void LogWriteFailed(Exception exception);
}
