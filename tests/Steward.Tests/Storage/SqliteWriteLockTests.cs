using Steward.Storage;

namespace Steward.Tests.Storage;

public sealed class SqliteWriteLockTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AcquireAsync_UrgentWaiter_GoesBeforeOrdinaryOnesThatQueuedEarlier()
    {
        var writeLock = new SqliteWriteLock();
        var order = new List<string>();
        var holder = await writeLock.AcquireAsync(Ct);
        var first = Take("ordinary 1", urgent: false);
        var second = Take("ordinary 2", urgent: false);
        var urgent = Take("urgent", urgent: true);

        holder.Dispose();
        await Task.WhenAll(first, second, urgent);

        Assert.Equal(["urgent", "ordinary 1", "ordinary 2"], order);

        async Task Take(string name, bool urgent)
        {
            using (await writeLock.AcquireAsync(Ct, urgent))
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
    public async Task TotalHeld_CountsTimeUnderTheLockAndUrgentHeldOnlyTheUrgentPart()
    {
        var writeLock = new SqliteWriteLock();
        using (await writeLock.AcquireAsync(Ct))
        {
            await Task.Delay(30, Ct);
        }

        using (await writeLock.AcquireAsync(Ct, urgent: true))
        {
            await Task.Delay(30, Ct);
        }

        Assert.InRange(writeLock.UrgentHeld, TimeSpan.FromMilliseconds(25), writeLock.TotalHeld - TimeSpan.FromMilliseconds(25));
    }
}
