namespace Steward.Storage;

/// <summary>
/// One writer at a time within this process. SQLite allows one writer per database; when connections of the same
/// process race for it, the loser sleeps and retries, which costs milliseconds per collision under load. Taking this
/// async lock first turns those collisions into an orderly queue, leaving SQLite's lock to arbitrate between processes.
/// </summary>
internal sealed class SqliteWriteLock : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async ValueTask<Releaser> AcquireAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(_gate);
    }

    public void Dispose() => _gate.Dispose();

    internal readonly struct Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
