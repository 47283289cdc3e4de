using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>
/// The runs started through <c>POST /api/runs</c>: each runs in the background (the request that started it has long
/// been answered 202), and its progress events are kept, in order, so any number of <c>GET /api/runs/{id}/events</c>
/// streams (including one that connects late or reconnects with <c>Last-Event-ID</c>) see them, within the buffer caps
/// of <see cref="ApiOptions"/>. On a shared database (PostgreSQL) the events also go to the <see cref="RunStreamLog"/>,
/// so another instance behind the load balancer streams them with the same ids. A finished run's events are dropped after
/// <see cref="ApiOptions.EventRetention"/>; its result stays in the store. Thread-safe.
/// </summary>
internal sealed partial class ApiRuns
{
    private readonly ConcurrentDictionary<Guid, TrackedRun> _runs = new();
    private readonly AgentRunner _runner;
    private readonly StoredSessions _sessions;
    private readonly IOptions<ApiOptions> _options;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ApiRuns> _logger;
    private readonly RunEventRelay _relay;
    private readonly JsonSerializerOptions _json;

    public ApiRuns(
        AgentRunner runner, StoredSessions sessions, IOptions<ApiOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<ApiRuns> logger,
        RunEventRelay relay, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        _runner = runner;
        _sessions = sessions;
        _options = options;
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
        _relay = relay;
        _json = json.Value.SerializerOptions;
        Buffer = new EventBuffer(options.Value.EventBufferBytesPerRun, options.Value.EventBufferBytes, Evict);
    }

    /// <summary>How many runs are tracked (running, or finished within the retention).</summary>
    public int Count => _runs.Count;

    /// <summary>The memory the tracked runs' events take, and its caps.</summary>
    public EventBuffer Buffer { get; }

    /// <summary>
    /// Starts <paramref name="request"/> and returns once the run is stored (its id and session known), or throws the
    /// <see cref="ApiProblem"/> its refusal is when it ends before being stored (unknown agent or session, bad input):
    /// then nothing was stored.
    /// </summary>
    public async Task<RunAccepted> StartAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Not the request's token: the run outlives the request that started it, until it ends, is cancelled, or the app stops.
        var run = new TrackedRun(CancellationTokenSource.CreateLinkedTokenSource(_lifetime.ApplicationStopping), Buffer) { Query = request.Query };
        _ = Task.Run(() => ExecuteAsync(run, request), CancellationToken.None);
        var (id, stored) = await run.Accepted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!stored)
        {
            var response = await run.Finished.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            throw Refusal(response);
        }

        var session = await _sessions.FindSessionOfRunAsync(id, cancellationToken).ConfigureAwait(false) ?? request.SessionId;
        return new RunAccepted(id, session, RunStatus.Running, RunLinks.For(id));
    }

    /// <summary>The tracked run <paramref name="id"/>, or <see langword="null"/> when it was not started here or its events have expired.</summary>
    public TrackedRun? Find(Guid id) => _runs.TryGetValue(id, out var run) ? run : null;

    /// <summary>The SSE event name and payload of <paramref name="progress"/>, the terminal result carrying the run's query as GET does.</summary>
    public static (string Name, ApiRunEvent Data) ToEvent(TrackedRun run, RunProgress progress)
    {
        var (name, data) = ApiRunEvent.From(progress);
        return data.Result is { } result ? (name, data with { Result = result with { Query = run.Query } }) : (name, data);
    }

    /// <summary>
    /// Frees at least <paramref name="bytes"/> when the buffers are over <see cref="ApiOptions.EventBufferBytes"/>: finished
    /// runs are forgotten first (oldest first: their results are stored), then <paramref name="adding"/> drops its oldest events.
    /// </summary>
    private long Evict(TrackedRun adding, long bytes)
    {
        long released = 0;
        foreach (var (id, run) in _runs.Where(r => r.Value.IsClosed).OrderBy(r => r.Value.ClosedAt).ToArray())
        {
            if (released >= bytes)
            {
                return released;
            }

            if (_runs.TryRemove(id, out _))
            {
                released += run.Clear();
            }
        }

        return released < bytes ? released + adding.Trim(bytes - released) : released;
    }

    private async Task ExecuteAsync(TrackedRun run, RunRequest request)
    {
        AgentResponse? response = null;
        try
        {
            response = await _runner.RunAsync(request, progress =>
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

                var index = run.Append(progress);
                if (index >= 0 && _relay.IsShared)
                {
                    var (name, data) = ToEvent(run, progress);
                    _relay.Publish(new RunStreamEvent(progress.RunId, index, name, JsonSerializer.Serialize(data, _json)));
                }

                return ValueTask.CompletedTask;
            }, run.Cancellation.Token).ConfigureAwait(false);
            if (!run.Accepted.Task.IsCompleted)
            {
                // Ended at once: refused before it was stored (unknown agent, bad input), or stored and failed at its first step.
                var stored = await _sessions.FindSessionOfRunAsync(response.RunId, CancellationToken.None).ConfigureAwait(false) is not null;
                if (!stored)
                {
                    _runs.TryRemove(response.RunId, out _);
                    Buffer.Release(run.Clear());
                    run.Id = null;
                }

                run.Accepted.TrySetResult((response.RunId, stored));
            }

            run.Finished.TrySetResult(response);
            if (response.EvaluationPending)
            {
                // The quality arrives as a later event; the run's stream may wait for it (?quality=true).
                _ = await _runner.WaitForQualityAsync(response.RunId, run.Cancellation.Token).ConfigureAwait(false);
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
            run.Close(_time.GetTimestamp());
            if (run.Id is { } id)
            {
                if (_relay.IsShared)
                {
                    // Tells the other instances' readers that this run's stream is complete (quality included).
                    _relay.Publish(new RunStreamEvent(id, int.MaxValue, RunEventRelay.EndMarker, "{}"));
                }

                _ = ForgetLaterAsync(id);
            }

            run.Cancellation.Dispose();
        }
    }

    private async Task ForgetLaterAsync(Guid id)
    {
        try
        {
            await Task.Delay(_options.Value.EventRetention, _time, _lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: everything goes anyway.
        }

        if (_runs.TryRemove(id, out var run))
        {
            Buffer.Release(run.Clear());
        }

        _relay.Forget(id);
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
