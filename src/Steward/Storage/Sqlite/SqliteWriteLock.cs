using System.Diagnostics;

namespace Steward.Storage;

/// <summary>
/// One writer at a time within this process. SQLite allows one writer per database; when connections of the same
/// process race for it, the loser sleeps and retries, which costs milliseconds per collision under load. Taking this
/// async lock first turns those collisions into an orderly queue, leaving SQLite's lock to arbitrate between processes.
/// Waiters are served first come, first served. (The budget ledger, whose holds runs wait for, is a file of its own and
/// never queues here.)
/// </summary>
internal sealed class SqliteWriteLock
{
    private readonly Lock _sync = new();
    private readonly Queue<TaskCompletionSource> _waiters = new();
    private bool _held;
    private long _heldTicks;

    /// <summary>How long the lock has been held in total: the process's use of SQLite's single writer, which bounds its write throughput.</summary>
    public TimeSpan TotalHeld => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _heldTicks));

    public ValueTask<Releaser> AcquireAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource waiter;
        lock (_sync)
        {
            if (!_held)
            {
                _held = true;
                return ValueTask.FromResult(new Releaser(this, Stopwatch.GetTimestamp()));
            }

            // Continuations run asynchronously, so the releasing writer never runs the next one's work on its own stack.
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(waiter);
        }

        return WaitAsync(waiter, cancellationToken);
    }

    private async ValueTask<Releaser> WaitAsync(TaskCompletionSource waiter, CancellationToken cancellationToken)
    {
        // A cancelled waiter stays queued; Release skips it, since its TrySetResult fails.
        await using (cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource)state!).TrySetCanceled(token), waiter).ConfigureAwait(false))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        return new Releaser(this, Stopwatch.GetTimestamp());
    }

    private void Release(long acquiredAt)
    {
        Interlocked.Add(ref _heldTicks, Stopwatch.GetTimestamp() - acquiredAt);
        lock (_sync)
        {
            while (_waiters.TryDequeue(out var next))
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

    internal readonly struct Releaser(SqliteWriteLock owner, long acquiredAt) : IDisposable
    {
        public void Dispose() => owner.Release(acquiredAt);
    }
}
