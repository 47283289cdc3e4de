using System.Diagnostics;

namespace Steward.LocalModels.Engine;

/// <summary>
/// A unit of parallel work that threads claim piece by piece (a shared counter), so it completes whether one
/// thread or all of them take part.
/// </summary>
internal interface IParallelJob
{
    /// <summary>Claims and runs pieces until none are left. <paramref name="threadIndex"/> selects per-thread scratch.</summary>
    void Execute(int threadIndex, int threadCount);

    /// <summary>True once every piece has been completed (not merely claimed).</summary>
    bool IsFinished { get; }
}

/// <summary>Runs a job on a team of threads; <see cref="ComputePool"/> is the engine's, the benchmark compares others.</summary>
internal interface IJobRunner
{
    int ThreadCount { get; }

    void Run(IParallelJob job);
}

/// <summary>
/// A fixed team of threads for the forward pass, in the style of ggml's thread pool: the caller is thread 0,
/// workers spin on a generation counter between jobs, then yield, and sleep after 2 ms without work. A token costs
/// a few hundred small matrix products; waking pooled threads through kernel events (Parallel.For) costs tens of
/// microseconds each time, spinning well under one.
/// <para>
/// The caller waits for the job's pieces, not for the workers: a worker that is asleep or preempted by another
/// process when a job opens simply misses it, and the caller does its share. Jobs are opened (odd generation) and
/// closed (even); a worker runs a job only if it registered as active while the job was still open, and the caller
/// waits for active workers to leave before the job's state is reused. One job at a time: <see cref="Run"/> must not
/// be called concurrently (the model serialises its callers).
/// </para>
/// </summary>
internal sealed class ComputePool : IJobRunner, IDisposable
{
    private const int YieldAfterSpins = 20_000; // roughly 50-100 µs of pure spinning
    private static readonly long SleepAfterTicks = Stopwatch.Frequency / 500; // 2 ms idle

    private readonly Thread[] _workers;
    private readonly object _sleepLock = new();
    private IParallelJob? _job;
    private Exception? _workerError;
    private int _generation;
    private int _active;
    private int _sleepers;
    private volatile bool _disposed;

    public ComputePool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _workers = new Thread[threadCount - 1];
        for (var i = 0; i < _workers.Length; i++)
        {
            var index = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(index))
            {
                IsBackground = true,
                Name = $"steward-compute-{index}",
            };
            _workers[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>Runs <paramref name="job"/> on the caller and whichever workers join, and returns when it is finished.</summary>
    public void Run(IParallelJob job)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_workers.Length == 0)
        {
            job.Execute(0, 1);
            return;
        }

        _job = job;
        Interlocked.Increment(ref _generation); // open
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_sleepLock)
            {
                Monitor.PulseAll(_sleepLock);
            }
        }

        Exception? error = null;
        try
        {
            job.Execute(0, ThreadCount);
        }
#pragma warning disable CA1031 // rethrown below once no worker touches the job any more
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex;
        }

        // Pieces claimed by workers may still be running: wait for them (spin, then yield so that a preempted worker
        // sharing this core gets it back sooner).
        for (var spins = 0; error is null && !job.IsFinished && Volatile.Read(ref _workerError) is null; spins++)
        {
            Pause(spins);
        }

        Interlocked.Increment(ref _generation); // close
        for (var spins = 0; Volatile.Read(ref _active) != 0; spins++)
        {
            Pause(spins);
        }

        _job = null;
        var workerError = Interlocked.Exchange(ref _workerError, null); // always cleared, so it cannot leak into the next job
        error ??= workerError;
        if (error is not null)
        {
            throw new InvalidOperationException("A parallel compute job failed.", error);
        }
    }

    private static void Pause(int spins)
    {
        if (spins < YieldAfterSpins)
        {
            Thread.SpinWait(1);
        }
        else
        {
            Thread.Yield();
        }
    }

    private void WorkerLoop(int index)
    {
        var lastSeen = 0;
        while (true)
        {
            var start = Stopwatch.GetTimestamp();
            var spins = 0;
            int generation;
            while (((generation = Volatile.Read(ref _generation)) & 1) == 0 || generation == lastSeen)
            {
                if (_disposed)
                {
                    return;
                }

                // The clock is read once per 1024 checks: in some VMs it is a system call.
                spins++;
                if (spins < YieldAfterSpins || (spins & 1023) != 0 || Stopwatch.GetTimestamp() - start < SleepAfterTicks)
                {
                    Pause(spins);
                    continue;
                }

                lock (_sleepLock)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (!_disposed && (((generation = Volatile.Read(ref _generation)) & 1) == 0 || generation == lastSeen))
                    {
                        Monitor.Wait(_sleepLock);
                    }

                    Interlocked.Decrement(ref _sleepers);
                }

                start = Stopwatch.GetTimestamp();
                spins = 0;
            }

            lastSeen = generation;
            Interlocked.Increment(ref _active);
            try
            {
                // Still open? Otherwise the caller may already be preparing the next job in the same object.
                if (Volatile.Read(ref _generation) == generation)
                {
                    _job?.Execute(index, ThreadCount);
                }
            }
#pragma warning disable CA1031 // a worker must always leave; Run rethrows the error on the caller
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _workerError, ex, null);
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        lock (_sleepLock)
        {
            Monitor.PulseAll(_sleepLock);
        }

        foreach (var w in _workers)
        {
            w.Join();
        }
    }
}
