using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>
/// The runs started through <c>POST /api/runs</c>: each runs in the background (the request that started it has long
/// been answered 202), and its progress events are kept, in order, so any number of <c>GET /api/runs/{id}/events</c>
/// streams (including one that connects late or reconnects with <c>Last-Event-ID</c>) see all of them. A finished run's
/// events are dropped after <see cref="ApiOptions.EventRetention"/>; its result stays in the store. Thread-safe.
/// </summary>
internal sealed partial class ApiRuns(
    AgentRunner runner, StoredSessions sessions, IOptions<ApiOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<ApiRuns> logger)
{
    private readonly ConcurrentDictionary<Guid, TrackedRun> _runs = new();

    /// <summary>How many runs are tracked (running, or finished within the retention).</summary>
    public int Count => _runs.Count;

    /// <summary>
    /// Starts <paramref name="request"/> and returns once the run is stored (its id and session known), or throws the
    /// <see cref="ApiProblem"/> its refusal is when it ends before being stored (unknown agent or session, bad input):
    /// then nothing was stored.
    /// </summary>
    public async Task<RunAccepted> StartAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Not the request's token: the run outlives the request that started it, until it ends, is cancelled, or the app stops.
        var run = new TrackedRun(CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping));
        _ = Task.Run(() => ExecuteAsync(run, request), CancellationToken.None);
        var (id, stored) = await run.Accepted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!stored)
        {
            var response = await run.Finished.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            throw Refusal(response);
        }

        var session = await sessions.FindSessionOfRunAsync(id, cancellationToken).ConfigureAwait(false) ?? request.SessionId;
        return new RunAccepted(id, session, RunStatus.Running, RunLinks.For(id));
    }

    /// <summary>The tracked run <paramref name="id"/>, or <see langword="null"/> when it was not started here or its events have expired.</summary>
    public TrackedRun? Find(Guid id) => _runs.TryGetValue(id, out var run) ? run : null;

    private async Task ExecuteAsync(TrackedRun run, RunRequest request)
    {
        AgentResponse? response = null;
        try
        {
            response = await runner.RunAsync(request, progress =>
            {
                if (run.Id is null)
                {
                    run.Id = progress.RunId;
                    _runs[progress.RunId] = run;
                }
                else if (!progress.IsTerminal)
                {
                    // Every event between the first and the last is sent once the run's row is written.
                    run.Accepted.TrySetResult((progress.RunId, true));
                }

                run.Append(progress);
                return ValueTask.CompletedTask;
            }, run.Cancellation.Token).ConfigureAwait(false);
            if (!run.Accepted.Task.IsCompleted)
            {
                // Ended at once: refused before it was stored (unknown agent, bad input), or stored and failed at its first step.
                var stored = await sessions.FindSessionOfRunAsync(response.RunId, CancellationToken.None).ConfigureAwait(false) is not null;
                if (!stored)
                {
                    _runs.TryRemove(response.RunId, out _);
                    run.Id = null;
                }

                run.Accepted.TrySetResult((response.RunId, stored));
            }

            run.Finished.TrySetResult(response);
            if (response.EvaluationPending)
            {
                // The quality arrives as a later event; the run's stream may wait for it (?quality=true).
                _ = await runner.WaitForQualityAsync(response.RunId, run.Cancellation.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (run.Cancellation.IsCancellationRequested)
        {
            // The app stopped while the answer was being scored; the run itself ended and said so.
        }
        catch (Exception ex)
        {
            // The runner answers every failure with an outcome; this is a defect, reported to whoever waits for the run.
            LogRunDefect(ex);
            run.Accepted.TrySetException(ex);
            run.Finished.TrySetException(ex);
        }
        finally
        {
            run.Close();
            if (run.Id is { } id)
            {
                _ = ForgetLaterAsync(id);
            }

            run.Cancellation.Dispose();
        }
    }

    private async Task ForgetLaterAsync(Guid id)
    {
        try
        {
            await Task.Delay(options.Value.EventRetention, time, lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: everything goes anyway.
        }

        _runs.TryRemove(id, out _);
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error, Message = "A run started through the API failed outside the runner.")]
    private partial void LogRunDefect(Exception exception);

    /// <summary>The problem a run that ended before it was stored stands for.</summary>
    private static ApiProblem Refusal(AgentResponse response)
    {
        var error = response.Error ?? new RunError(RunErrorCodes.Internal, "The run failed before it started.");
        return error.Code switch
        {
            RunErrorCodes.PresetNotFound => new ApiProblem(StatusCodes.Status404NotFound, "Unknown agent", "agent: " + error.Message, "agent"),
            RunErrorCodes.SessionNotFound => new ApiProblem(StatusCodes.Status404NotFound, "Unknown session", "sessionId: " + error.Message, "sessionId"),
            RunErrorCodes.InvalidRequest => new ApiProblem(StatusCodes.Status400BadRequest, "Invalid request", error.Message),
            RunErrorCodes.PresetInvalid => new ApiProblem(StatusCodes.Status422UnprocessableEntity, "Invalid agent preset", error.Message, "agent"),
            RunErrorCodes.ProviderNotConfigured => new ApiProblem(StatusCodes.Status503ServiceUnavailable, "No provider", error.Message),
            RunErrorCodes.Cancelled => new ApiProblem(StatusCodes.Status503ServiceUnavailable, "Run cancelled", error.Message),
            _ => new ApiProblem(StatusCodes.Status500InternalServerError, "Run failed", error.Message),
        };
    }
}

/// <summary>One run started through the API: its events so far, its outcome, and how to cancel it.</summary>
internal sealed class TrackedRun(CancellationTokenSource cancellation)
{
    private readonly Lock _gate = new();
    private readonly List<RunProgress> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;

    public Guid? Id { get; set; }

    /// <summary>The run ended and its scoring (if any) finished: no more events.</summary>
    public bool IsClosed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    public CancellationTokenSource Cancellation { get; } = cancellation;

    /// <summary>The run's id once it is stored (true), or once it ended unstored (false).</summary>
    public TaskCompletionSource<(Guid Id, bool Stored)> Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The run's outcome (before its quality, which may follow).</summary>
    public TaskCompletionSource<AgentResponse> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Append(RunProgress progress)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _events.Add(progress);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>No more events: the run ended and its scoring (if any) finished.</summary>
    public void Close()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _closed = true;
            changed = _changed;
        }

        changed.TrySetResult();
    }

    public async Task CancelAsync()
    {
        try
        {
            await Cancellation.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }
    }

    /// <summary>
    /// The events from index <paramref name="from"/> on, as they come: to the terminal one, or (with
    /// <paramref name="untilScored"/>) until the run is closed, its quality included.
    /// </summary>
    public async IAsyncEnumerable<(int Index, RunProgress Progress)> ReadAsync(int from, bool untilScored, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = from;
        while (true)
        {
            RunProgress[] batch;
            Task changed;
            bool closed;
            lock (_gate)
            {
                batch = next < _events.Count ? _events.GetRange(next, _events.Count - next).ToArray() : [];
                changed = _changed.Task;
                closed = _closed;
            }

            foreach (var progress in batch)
            {
                yield return (next++, progress);
                if (progress.IsTerminal && !untilScored)
                {
                    yield break;
                }
            }

            if (closed && batch.Length == 0)
            {
                yield break;
            }

            if (batch.Length == 0)
            {
                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
