using Steward.Storage;

namespace Steward.Tests.Storage;

public sealed class SqliteWriteLockTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AcquireAsync_Waiters_AreServedInTheOrderTheyQueued()
    {
        var writeLock = new SqliteWriteLock();
        var order = new List<string>();
        var holder = await writeLock.AcquireAsync(Ct);
        var waiters = new[] { Take("first"), Take("second"), Take("third") };

        holder.Dispose();
        await Task.WhenAll(waiters);

        Assert.Equal(["first", "second", "third"], order);

        async Task Take(string name)
        {
            using (await writeLock.AcquireAsync(Ct))
            {
                lock (order)
                {
                    order.Add(name);
                }
            }
        }
    }

    [Fact]
    public async Task AcquireAsync_CancelledWaiter_IsSkippedAndTheNextOneGetsTheLock()
    {
        var writeLock = new SqliteWriteLock();
        var holder = await writeLock.AcquireAsync(Ct);
        using var cancel = new CancellationTokenSource();
        var cancelled = writeLock.AcquireAsync(cancel.Token).AsTask();
        var next = writeLock.AcquireAsync(Ct).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(next.IsCompleted);
        holder.Dispose();

        (await next).Dispose();
        // Free again: an uncontended acquire completes at once.
        var again = writeLock.AcquireAsync(Ct).AsTask();
        Assert.True(again.IsCompletedSuccessfully);
        (await again).Dispose();
    }

    [Fact]
    public async Task TotalHeld_CountsTimeUnderTheLockOnly()
    {
        var writeLock = new SqliteWriteLock();
        var whole = System.Diagnostics.Stopwatch.StartNew();
        using (await writeLock.AcquireAsync(Ct))
        {
            await Task.Delay(30, Ct);
        }

        var outside = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(100, Ct);
        outside.Stop();
        using (await writeLock.AcquireAsync(Ct))
        {
            await Task.Delay(30, Ct);
        }

        whole.Stop();
        // Bounded by what was measured around it, not by fixed times, so a slow machine cannot fail it.
        Assert.InRange(writeLock.TotalHeld, TimeSpan.FromMilliseconds(50), whole.Elapsed - outside.Elapsed);
    }
}
