using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Agents;

namespace Steward.Evaluation;

/// <summary>
/// Scores delivered answers in the background, off the request path: a bounded queue served by
/// <see cref="EvaluationOptions.Concurrency"/> workers on the queue's own cancellation, so neither a closed browser tab
/// nor a stopped request can interrupt an evaluation or rewrite the answer it scores. An answer that finds the queue full
/// is recorded as skipped and counted; when the process stops, what is queued is scored for up to
/// <see cref="EvaluationOptions.DrainTimeout"/> and the rest recorded as skipped, never lost silently. Thread-safe.
/// </summary>
internal sealed partial class EvaluationQueue : IAsyncDisposable
{
    private readonly Channel<Job> _jobs;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<QualityResult?>> _pending = new();
    private readonly IRunEvaluator _evaluator;
    private readonly EvaluationStore _store;
    private readonly EvaluationOptions _options;
    private readonly Telemetry.RunTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<EvaluationQueue> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private Task[]? _workers;
    private long _skipped;
    private int _disposed;

    public EvaluationQueue(
        IRunEvaluator evaluator, EvaluationStore store, IOptions<EvaluationOptions> options, Telemetry.RunTelemetry telemetry, TimeProvider time,
        ILogger<EvaluationQueue> logger)
    {
        _evaluator = evaluator;
        _store = store;
        _options = options.Value;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _jobs = Channel.CreateBounded<Job>(new BoundedChannelOptions(_options.QueueLength) { FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>How many answers were not scored (queue full, or the process stopped first) since start.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>How many answers are waiting or being scored.</summary>
    public int Pending => _pending.Count;

    /// <summary>
    /// Queues an answer for scoring; <paramref name="onQuality"/> hears the result (it may be gone by then: its failures
    /// are logged and ignored). Returns false when the queue is full or stopping; the run's evaluation is then recorded as
    /// skipped.
    /// </summary>
    public async ValueTask<bool> EnqueueAsync(EvaluationRequest request, Func<QualityResult, ValueTask>? onQuality)
    {
        ArgumentNullException.ThrowIfNull(request);
        EnsureWorkers();
        var completion = new TaskCompletionSource<QualityResult?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[request.RunId] = completion;
        // The evaluation's span (and the judge's calls beneath it) join the run's trace, though the run span has ended.
        var trace = System.Diagnostics.Activity.Current?.Context ?? default;
        if (Volatile.Read(ref _disposed) == 0 && _jobs.Writer.TryWrite(new Job(request, onQuality, completion, trace)))
        {
            return true;
        }

        await SkipAsync(request.RunId, completion, "the evaluation queue was full (Steward:Evaluation:QueueLength).").ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// The answer's quality once scored: waits while it is queued or being scored, else reads what was stored.
    /// <see langword="null"/> when it was not scored (skipped, no evaluators).
    /// </summary>
    public async Task<QualityResult?> WaitAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (_pending.TryGetValue(runId, out var completion))
        {
            return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var stored = await _store.LoadAsync([runId], cancellationToken).ConfigureAwait(false);
        return stored.TryGetValue(runId, out var record) ? EvaluationStore.ToResult(record) : null;
    }

    private void EnsureWorkers()
    {
        if (Volatile.Read(ref _workers) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            // The workers outlive the run that happens to start them: they must not inherit its trace context.
            using (ExecutionContext.SuppressFlow())
            {
                _workers ??= Enumerable.Range(0, _options.Concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
            }
        }
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var job in _jobs.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                await ScoreAsync(job).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Drained as far as the time allowed; what is left is recorded as skipped by DisposeAsync.
        }
    }

    private async Task ScoreAsync(Job job)
    {
        QualityResult? quality = null;
        try
        {
            using (Telemetry.StewardTelemetry.ActivitySource.StartActivity(Telemetry.StewardTelemetry.EvaluationActivityName, System.Diagnostics.ActivityKind.Internal, job.Trace))
            {
                quality = await _evaluator.EvaluateAsync(job.Request, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            await SkipAsync(job.Request.RunId, job.Completion, "the process stopped before scoring finished.").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Evaluation never fails the run: the answer was delivered and stored already.
            LogEvaluationFailed(ex, job.Request.RunId);
            await SkipAsync(job.Request.RunId, job.Completion, "scoring failed; details are in the application log.").ConfigureAwait(false);
            return;
        }

        if (quality is not null)
        {
            _telemetry.RecordQuality(job.Request.Preset.Name, quality);
            if (job.OnQuality is { } listener)
            {
                try
                {
                    await listener(quality).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // The listener's page or terminal may be gone; the evaluation is stored either way.
                    LogListenerFailed(ex, job.Request.RunId);
                }
            }
        }

        // After the listener, so a waiter that prints the quality itself never races the listener's line.
        _pending.TryRemove(job.Request.RunId, out _);
        job.Completion.TrySetResult(quality);
    }

    private async Task SkipAsync(Guid runId, TaskCompletionSource<QualityResult?> completion, string reason)
    {
        Interlocked.Increment(ref _skipped);
        LogSkipped(runId, reason);
        try
        {
            await _store.MarkSkippedAsync(runId, reason, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or Microsoft.EntityFrameworkCore.DbUpdateException or InvalidOperationException)
        {
            // Still pending in the database: the sweep of a live process records it as skipped once this one is gone.
            LogSkipNotStored(ex, runId);
        }
        finally
        {
            _pending.TryRemove(runId, out _);
            completion.TrySetResult(null);
        }
    }

    /// <summary>Stops taking answers, scores what is queued for up to the drain timeout, and records the rest as skipped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _jobs.Writer.TryComplete();
        if (_workers is { } workers)
        {
            var drained = Task.WhenAll(workers);
            if (await Task.WhenAny(drained, Task.Delay(_options.DrainTimeout, _time)).ConfigureAwait(false) != drained)
            {
                await _stopping.CancelAsync().ConfigureAwait(false);
            }

            await drained.ConfigureAwait(false);
        }

        while (_jobs.Reader.TryRead(out var left))
        {
            await SkipAsync(left.Request.RunId, left.Completion, "the process stopped before scoring started.").ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private sealed record Job(
        EvaluationRequest Request, Func<QualityResult, ValueTask>? OnQuality, TaskCompletionSource<QualityResult?> Completion, System.Diagnostics.ActivityContext Trace);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Evaluation of run {RunId} failed; the answer stands.")]
    private partial void LogEvaluationFailed(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1704, Level = LogLevel.Warning, Message = "Run {RunId} was not scored: {Reason}")]
    private partial void LogSkipped(Guid runId, string reason);

    [LoggerMessage(EventId = 1705, Level = LogLevel.Warning, Message = "Recording that run {RunId} was not scored failed.")]
    private partial void LogSkipNotStored(Exception exception, Guid runId);

    [LoggerMessage(EventId = 1706, Level = LogLevel.Debug, Message = "The quality listener of run {RunId} failed (its page or terminal is probably gone).")]
    private partial void LogListenerFailed(Exception exception, Guid runId);
}
