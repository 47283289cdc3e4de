using System.Runtime.CompilerServices;
using Steward.Agents;

namespace Steward.Web.Api;

/// <summary>
/// What a reader of a run's events gets next: an event with its index, or a gap (events dropped from memory by the buffer
/// caps before this reader got them) saying which indexes it missed.
/// </summary>
internal readonly record struct TrackedEvent(int Index, RunProgress? Progress, int MissedFrom = 0, int MissedTo = -1)
{
    public bool IsGap => Progress is null;
}

/// <summary>
/// One run started through the API: its events so far (up to the buffer caps: the oldest are dropped first, and a reader
/// that wanted them is told), its outcome, and how to cancel it. Thread-safe.
/// </summary>
internal sealed class TrackedRun(CancellationTokenSource cancellation, EventBuffer buffer)
{
    private readonly Lock _gate = new();
    private readonly Queue<(RunProgress Progress, long Bytes)> _events = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;
    private int _first;
    private int _count;
    private long _bytes;

    public Guid? Id { get; set; }

    /// <summary>The query the run answers (its result carries it, as <c>GET /api/runs/{id}</c> does).</summary>
    public string? Query { get; init; }

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

    /// <summary>When it closed (for evicting the oldest finished runs first when memory runs short).</summary>
    public long ClosedAt { get; private set; } = long.MaxValue;

    /// <summary>The bytes its events are estimated to hold.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    public CancellationTokenSource Cancellation { get; } = cancellation;

    /// <summary>The run's id once it is stored (true), or once it ended unstored (false).</summary>
    public TaskCompletionSource<(Guid Id, bool Stored)> Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The run's outcome (before its quality, which may follow).</summary>
    public TaskCompletionSource<AgentResponse> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Adds an event; returns its index, or -1 once the run is closed.</summary>
    public int Append(RunProgress progress)
    {
        TaskCompletionSource changed;
        int index;
        long released = 0;
        var size = EventBuffer.Estimate(progress);
        lock (_gate)
        {
            if (_closed)
            {
                return -1;
            }

            index = _first + _count;
            _events.Enqueue((progress, size));
            _count++;
            _bytes += size;
            // The newest event always stays: it may be the terminal one, which carries the result.
            while (_count > 1 && _bytes > buffer.PerRun)
            {
                released += DropOldest();
            }

            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        buffer.Release(released);
        buffer.Take(size, this);
        changed.TrySetResult();
        return index;
    }

    /// <summary>Drops the oldest events until at least <paramref name="bytes"/> are freed or one is left; returns the bytes freed.</summary>
    public long Trim(long bytes)
    {
        long released = 0;
        lock (_gate)
        {
            while (_count > 1 && released < bytes)
            {
                released += DropOldest();
            }
        }

        return released;
    }

    /// <summary>Drops every event (the run is forgotten); returns the bytes freed.</summary>
    public long Clear()
    {
        lock (_gate)
        {
            var released = _bytes;
            _first += _count;
            _events.Clear();
            _count = 0;
            _bytes = 0;
            return released;
        }
    }

    private long DropOldest()
    {
        var (_, bytes) = _events.Dequeue();
        _first++;
        _count--;
        _bytes -= bytes;
        return bytes;
    }

    /// <summary>No more events: the run ended and its scoring (if any) finished.</summary>
    public void Close(long now)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _closed = true;
            ClosedAt = now;
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
    /// <paramref name="untilScored"/>) until the run is closed, its quality included. Events dropped before this reader
    /// got them come as one gap.
    /// </summary>
    public async IAsyncEnumerable<TrackedEvent> ReadAsync(int from, bool untilScored, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = from;
        while (true)
        {
            RunProgress[] batch;
            Task changed;
            bool closed;
            int first;
            lock (_gate)
            {
                first = Math.Max(next, _first);
                batch = first < _first + _count ? _events.Skip(first - _first).Select(e => e.Progress).ToArray() : [];
                changed = _changed.Task;
                closed = _closed;
            }

            if (first > next)
            {
                yield return new TrackedEvent(first - 1, null, next, first - 1);
                next = first;
            }

            foreach (var progress in batch)
            {
                yield return new TrackedEvent(next++, progress);
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

/// <summary>
/// The memory the API's run events may take: <see cref="ApiOptions.EventBufferBytesPerRun"/> per run (the run drops its
/// oldest events past it) and <see cref="ApiOptions.EventBufferBytes"/> in all (finished runs are forgotten first, oldest
/// first, then the run adding events drops its oldest). Sizes are estimates of what an event holds. Thread-safe.
/// </summary>
internal sealed class EventBuffer(long perRun, long total, Func<TrackedRun, long, long> evict)
{
    private long _used;

    public long PerRun { get; } = perRun;

    public long Total { get; } = total;

    /// <summary>The bytes the buffered events are estimated to hold now.</summary>
    public long Used => Interlocked.Read(ref _used);

    public void Take(long bytes, TrackedRun run)
    {
        var over = Interlocked.Add(ref _used, bytes) - Total;
        if (over > 0)
        {
            Release(evict(run, over));
        }
    }

    public void Release(long bytes)
    {
        if (bytes != 0)
        {
            Interlocked.Add(ref _used, -bytes);
        }
    }

    /// <summary>What an event holds in memory, roughly: the record, its strings (UTF-16) and the result it may carry.</summary>
    public static long Estimate(RunProgress progress)
    {
        long chars = progress.Message.Length + (progress.TextDelta?.Length ?? 0);
        if (progress.Response is { } response)
        {
            chars += response.Text.Length + (response.PartialText?.Length ?? 0) + 2048;
        }

        if (progress.ToolCall is not null || progress.FunctionCall is not null || progress.Quality is not null)
        {
            chars += 1024;
        }

        return 256 + 2 * chars;
    }
}
