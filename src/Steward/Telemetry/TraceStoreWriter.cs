using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>
/// Writes finished spans to the database off the hot path: the caller only puts the span in a bounded queue;
/// one background loop writes batches, each in one transaction, and applies retention (age and count) from time to
/// time. When the queue is full the span is dropped and counted (<c>steward.trace_store.dropped_spans</c>, and a
/// log warning at most every 10 seconds). The spans go to the trace store's own database file, so these writes never
/// wait for, nor hold up, the runs' writes to the main one. Thread-safe.
/// </summary>
internal sealed partial class TraceStoreWriter : IAsyncDisposable, IDisposable
{
    // Spans per transaction. Each commit writes every page it dirtied to the log, and a batch's spans share their pages
    // (the table's and its indexes' last leaves), so commits of 32 spans were half of the store's CPU in a gateway
    // profile. The store has a file of its own and is read under WAL, so a long transaction holds up no run and no
    // reader; it bounds only how long another process's trace writer waits for the file.
    private const int WriteSlice = 256;
    private static readonly TimeSpan DropReportInterval = TimeSpan.FromSeconds(10);

    private readonly Channel<object> _queue;
    private readonly IDbContextFactory<TraceDbContext> _contexts;
    private readonly StorageBackend _backend;

    // The writer loop's own connection and insert statement (only the loop touches them).
    private DbConnection? _connection;
    private WriterStatement? _insert;
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
        IDbContextFactory<TraceDbContext> contexts, IOptions<TelemetryOptions> options, StorageBackend backend,
        IMeterFactory meters, TimeProvider time, ILogger<TraceStoreWriter> logger)
    {
        _backend = backend;
        _contexts = contexts;
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
        // Whole traces go, never part of one: a waterfall with its root or half its children missing would mislead.
        var deleted = await db.TraceSpans.Where(s => db.TraceSpans.Where(old => old.StartTime < cutoff).Select(old => old.TraceId).Contains(s.TraceId))
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        var newestToDrop = await db.TraceSpans.OrderByDescending(s => s.Id).Skip(_settings.MaxSpans).Select(s => (long?)s.Id)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (newestToDrop is { } id)
        {
            deleted += await db.TraceSpans.Where(s => db.TraceSpans.Where(old => old.Id <= id).Select(old => old.TraceId).Contains(s.TraceId))
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
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

        var written = 0;
        try
        {
            // The rows go in through one prepared statement, in slices of WriteSlice per transaction.
            var records = batch.Select(StoredSpans.ToRecord).ToArray();
            _connection ??= _backend.OpenWriter(StorageFile.Traces);
            foreach (var slice in records.Chunk(WriteSlice))
            {
                Insert(_connection, slice);
                written += slice.Length;
                Interlocked.Add(ref _written, slice.Length);
            }
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            // Tracing must never take the app down; the spans are counted as dropped and the reason logged.
            Interlocked.Add(ref _failed, batch.Count - written);
            LogWriteFailed(ex, batch.Count - written);
            CloseConnection();
        }
    }

    private void Insert(DbConnection connection, TraceSpanRecord[] records)
    {
        using var tx = _backend.BeginWrite(connection);
        var insert = _insert ??= _backend.PrepareWriter(connection,
            $"INSERT INTO trace_spans ({string.Join(", ", InsertColumns.Select(c => $"\"{c}\""))}) VALUES ({string.Join(", ", InsertColumns.Select(c => "@" + c))})",
            InsertColumns);
        foreach (var record in records)
        {
            insert.Set(0, record.TraceId);
            insert.Set(1, record.SpanId);
            insert.Set(2, record.ParentSpanId);
            insert.Set(3, record.Name);
            insert.Set(4, record.Source);
            insert.Set(5, record.Kind);
            insert.Set(6, _backend.Date(record.StartTime));
            insert.Set(7, record.DurationTicks);
            insert.Set(8, record.StatusCode);
            insert.Set(9, record.StatusMessage);
            insert.Set(10, record.Attributes);
            insert.Set(11, record.Events);
            insert.Execute(tx);
        }

        tx.Commit();
    }

    private static readonly string[] InsertColumns =
        ["TraceId", "SpanId", "ParentSpanId", "Name", "Source", "Kind", "StartTime", "DurationTicks", "StatusCode", "StatusMessage", "Attributes", "Events"];

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
        CloseConnection();
    }

    private void CloseConnection()
    {
        _insert?.Dispose();
        _insert = null;
        _connection?.Dispose();
        _connection = null;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _wake.Release();
        _loop.GetAwaiter().GetResult();
        _wake.Dispose();
        CloseConnection();
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
