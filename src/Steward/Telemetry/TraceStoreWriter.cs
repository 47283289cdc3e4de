using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>
/// Writes finished spans to the database off the hot path: the caller only puts the span in a bounded queue;
/// one background loop writes batches, each in one transaction, and applies retention (age and count) from time to
/// time. When the queue is full the span is dropped and counted (<c>steward.trace_store.dropped_spans</c>, and a
/// log warning at most every 10 seconds). Thread-safe.
/// </summary>
internal sealed partial class TraceStoreWriter : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan DropReportInterval = TimeSpan.FromSeconds(10);

    private readonly Channel<object> _queue;
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly SqliteWriteLock _writeLock;
    private readonly TimeProvider _time;
    private readonly ILogger<TraceStoreWriter> _logger;
    private readonly TraceStoreSettings _settings;
    private readonly Task _loop;
    private readonly SemaphoreSlim _wake = new(0);
    private long _dropped;
    private long _written;
    private long _failed;
    private long _reportedDropped;
    private DateTimeOffset _lastDropReport;
    private DateTimeOffset _nextRetention;

    public TraceStoreWriter(
        IDbContextFactory<StewardDbContext> contexts, SqliteWriteLock writeLock, IOptions<TelemetryOptions> options, IMeterFactory meters,
        TimeProvider time, ILogger<TraceStoreWriter> logger)
    {
        _contexts = contexts;
        _writeLock = writeLock;
        _time = time;
        _logger = logger;
        _settings = options.Value.Store;
        _queue = Channel.CreateBounded<object>(new BoundedChannelOptions(_settings.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false,
        });
        _nextRetention = time.GetUtcNow();
        var meter = meters.Create(StewardTelemetry.SourceName);
        meter.CreateObservableCounter(StewardTelemetry.TraceStoreDroppedMetric, () => Dropped, "{span}",
            "Spans the trace store dropped because its queue was full or a write failed.");
        meter.CreateObservableCounter(StewardTelemetry.TraceStoreWrittenMetric, () => Written, "{span}", "Spans written to the trace store.");
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Spans dropped so far (queue full, or the write failed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped) + Interlocked.Read(ref _failed);

    /// <summary>Spans written so far.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues a finished span; returns false (and counts the drop) when the queue is full.</summary>
    public bool TryEnqueue(Activity span)
    {
        if (_queue.Writer.TryWrite(span))
        {
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>Completes when every span queued before the call is written (or dropped).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(done))
        {
            try
            {
                await _queue.Writer.WriteAsync(done, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return;
            }
        }

        // After the request is queued, so the writer that wakes up finds it.
        _wake.Release();

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes spans past the age and count limits now. Returns how many were deleted.</summary>
    public async Task<int> ApplyRetentionAsync(CancellationToken cancellationToken)
    {
        var cutoff = (_time.GetUtcNow() - _settings.MaxAge).UtcDateTime;
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await _writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var deleted = await db.TraceSpans.Where(s => s.StartTime < cutoff).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        var newestToDrop = await db.TraceSpans.OrderByDescending(s => s.Id).Skip(_settings.MaxSpans).Select(s => (long?)s.Id)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (newestToDrop is { } id)
        {
            deleted += await db.TraceSpans.Where(s => s.Id <= id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    private async Task RunAsync()
    {
        var batch = new List<Activity>(_settings.BatchSize);
        var flushes = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Linger so one transaction carries many runs' spans: the store then costs the runs' own writes (which share
            // SQLite's single writer) one short transaction per interval instead of one per run. A flush cuts it short.
            if (reader.Count < _settings.BatchSize && !reader.Completion.IsCompleted)
            {
                await _wake.WaitAsync(_settings.FlushInterval).ConfigureAwait(false);
            }

            while (batch.Count < _settings.BatchSize && reader.TryRead(out var item))
            {
                if (item is Activity span)
                {
                    batch.Add(span);
                }
                else
                {
                    // Everything queued before the flush request is in this batch or written already.
                    flushes.Add((TaskCompletionSource)item);
                    break;
                }
            }

            var wrote = batch.Count > 0;
            await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
            ReportDrops(force: false);
            if (wrote)
            {
                // Only after a write: a process that traced nothing (e.g. 'steward models list') leaves the database alone.
                await ApplyRetentionIfDueAsync().ConfigureAwait(false);
            }

            foreach (var flush in flushes)
            {
                flush.TrySetResult();
            }

            flushes.Clear();
        }

        ReportDrops(force: true);
    }

    private async Task WriteAsync(List<Activity> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await using var db = await _contexts.CreateDbContextAsync().ConfigureAwait(false);
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            db.TraceSpans.AddRange(batch.Select(StoredSpans.ToRecord));
            using var _ = await _writeLock.AcquireAsync(CancellationToken.None).ConfigureAwait(false);
            await db.SaveChangesAsync().ConfigureAwait(false);
            Interlocked.Add(ref _written, batch.Count);
        }
        catch (Exception ex) when (ex is DbUpdateException or System.Data.Common.DbException or InvalidOperationException)
        {
            // Tracing must never take the app down; the spans are counted as dropped and the reason logged.
            Interlocked.Add(ref _failed, batch.Count);
            LogWriteFailed(ex, batch.Count);
        }
    }

    private async Task ApplyRetentionIfDueAsync()
    {
        var now = _time.GetUtcNow();
        if (now < _nextRetention)
        {
            return;
        }

        _nextRetention = now + _settings.RetentionInterval;
        try
        {
            var deleted = await ApplyRetentionAsync(CancellationToken.None).ConfigureAwait(false);
            if (deleted > 0)
            {
                LogRetention(deleted);
            }
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            LogRetentionFailed(ex);
        }
    }

    private void ReportDrops(bool force)
    {
        var dropped = Interlocked.Read(ref _dropped);
        var now = _time.GetUtcNow();
        if (dropped > _reportedDropped && (force || now - _lastDropReport >= DropReportInterval))
        {
            LogDropped(dropped - _reportedDropped, dropped, _settings.QueueCapacity);
            _reportedDropped = dropped;
            _lastDropReport = now;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _wake.Release();
        await _loop.ConfigureAwait(false);
        _wake.Dispose();
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _wake.Release();
        _loop.GetAwaiter().GetResult();
        _wake.Dispose();
    }

    [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "The trace store dropped {Count} spans because its queue was full ({Total} since start; queue capacity {Capacity}, Steward:Telemetry:Store:QueueCapacity).")]
    private partial void LogDropped(long count, long total, int capacity);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "The trace store could not write {Count} spans; they are dropped.")]
    private partial void LogWriteFailed(Exception exception, int count);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Debug, Message = "Trace store retention deleted {Count} spans.")]
    private partial void LogRetention(int count);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Warning, Message = "Trace store retention failed; it will be tried again.")]
    private partial void LogRetentionFailed(Exception exception);
}

/// <summary>Hands every finished span of Steward's and the AI libraries' sources to the trace store writer.</summary>
internal sealed class TraceStoreProcessor(TraceStoreWriter writer) : OpenTelemetry.BaseProcessor<Activity>
{
    public override void OnEnd(Activity data) => writer.TryEnqueue(data);
}
