using System.Diagnostics;

namespace Steward.Storage;

/// <summary>
/// One writer at a time within this process. SQLite allows one writer per database; when connections of the same
/// process race for it, the loser sleeps and retries, which costs milliseconds per collision under load. Taking this
/// async lock first turns those collisions into an orderly queue, leaving SQLite's lock to arbitrate between processes.
/// <para>
/// Waiters are served first come, first served, except that urgent ones (a budget hold that runs are waiting for,
/// a few hundred microseconds of work) go before the ordinary ones: behind a queue of storage writes under load they
/// would otherwise hold every waiting run up for the whole queue.
/// </para>
/// </summary>
internal sealed class SqliteWriteLock
{
    private readonly Lock _sync = new();
    private readonly Queue<TaskCompletionSource> _urgent = new();
    private readonly Queue<TaskCompletionSource> _ordinary = new();
    private bool _held;
    private long _heldTicks;
    private long _urgentHeldTicks;

    /// <summary>How long the lock has been held in total: the process's use of SQLite's single writer, which bounds its write throughput.</summary>
    public TimeSpan TotalHeld => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _heldTicks));

    /// <summary>The part of <see cref="TotalHeld"/> that urgent holders (the budget ledger) took.</summary>
    public TimeSpan UrgentHeld => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _urgentHeldTicks));

    public ValueTask<Releaser> AcquireAsync(CancellationToken cancellationToken, bool urgent = false)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource waiter;
        lock (_sync)
        {
            if (!_held)
            {
                _held = true;
                return ValueTask.FromResult(new Releaser(this, Stopwatch.GetTimestamp(), urgent));
            }

            // Continuations run asynchronously, so the releasing writer never runs the next one's work on its own stack.
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (urgent ? _urgent : _ordinary).Enqueue(waiter);
        }

        return WaitAsync(waiter, urgent, cancellationToken);
    }

    private async ValueTask<Releaser> WaitAsync(TaskCompletionSource waiter, bool urgent, CancellationToken cancellationToken)
    {
        // A cancelled waiter stays queued; Release skips it, since its TrySetResult fails.
        await using (cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource)state!).TrySetCanceled(token), waiter).ConfigureAwait(false))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        return new Releaser(this, Stopwatch.GetTimestamp(), urgent);
    }

    private void Release(long acquiredAt, bool urgent)
    {
        var held = Stopwatch.GetTimestamp() - acquiredAt;
        Interlocked.Add(ref _heldTicks, held);
        if (urgent)
        {
            Interlocked.Add(ref _urgentHeldTicks, held);
        }

        lock (_sync)
        {
            while (_urgent.TryDequeue(out var next) || _ordinary.TryDequeue(out next))
            {
                // Ownership passes straight to the next live waiter: no one can slip in between.
                if (next.TrySetResult())
                {
                    return;
                }
            }

            _held = false;
        }
    }

    internal readonly struct Releaser(SqliteWriteLock owner, long acquiredAt, bool urgent) : IDisposable
    {
        public void Dispose() => owner.Release(acquiredAt, urgent);
    }
}
