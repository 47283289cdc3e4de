using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>One progress event of a run as its stream sends it: its index (the SSE id), its event name and its JSON.</summary>
public sealed record RunStreamEvent(Guid RunId, int Index, string Name, string Data);

/// <summary>Where a run stands, read from its row: whether it exists, its status, and whether its answer awaits a score.</summary>
public sealed record RunStreamState(bool Exists, RunStatus Status, bool EvaluationPending);

/// <summary>
/// The progress events of runs, shared through the database so that any instance behind a load balancer can stream a run
/// another instance executes (and a client reconnecting to another instance resumes at the same event id). The instance
/// running a run appends its events; the others read them from an index on. Used only when the database is shared
/// (<see cref="IsShared"/>: PostgreSQL); rows are deleted after the API's event retention. Thread-safe.
/// </summary>
public sealed class RunStreamLog
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _backend;
    private readonly TimeProvider _time;

    internal RunStreamLog(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend, TimeProvider time)
    {
        _contexts = contexts;
        _backend = backend;
        _time = time;
    }

    /// <summary>Whether several instances may share this database (PostgreSQL), so run events need to go through it.</summary>
    public bool IsShared => _backend.Provider == StorageProvider.Postgres;

    /// <summary>Stores <paramref name="events"/> in one write; an event stored already (same run and index) is an error.</summary>
    /// <exception cref="StorageException">The write failed (an event stored already, or the database refused it); nothing of the batch is stored.</exception>
    public async Task AppendAsync(IReadOnlyList<RunStreamEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow().UtcDateTime;
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.RunStreamEvents.AddRange(events.Select(e => new RunStreamEventRecord { RunId = e.RunId, Index = e.Index, Name = e.Name, Data = e.Data, CreatedAt = now }));
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex)
            {
                // Hosts see Steward's own storage error, not EF's, so they stay off the schema and its library.
                throw new StorageException($"{events.Count} run events could not be stored: {ex.InnerException?.Message ?? ex.Message}", ex);
            }
        }
    }

    /// <summary>The events of run <paramref name="runId"/> from index <paramref name="from"/> on, in order, at most <paramref name="take"/>.</summary>
    public async Task<IReadOnlyList<RunStreamEvent>> ReadAsync(Guid runId, int from, int take, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.RunStreamEvents.AsNoTracking().Where(e => e.RunId == runId && e.Index >= from).OrderBy(e => e.Index).Take(take)
            .Select(e => new RunStreamEvent(e.RunId, e.Index, e.Name, e.Data)).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether run <paramref name="runId"/> exists, its status, and whether its answer is still to be scored.</summary>
    public async Task<RunStreamState> StateAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var row = await db.Runs.AsNoTracking().Where(r => r.Id == runId).Select(r => new { r.Status, r.EvaluationStatus })
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return row is null
            ? new RunStreamState(false, RunStatus.Failed, false)
            : new RunStreamState(true, Enum.Parse<RunStatus>(row.Status), row.EvaluationStatus == "pending");
    }

    /// <summary>Deletes the events of run <paramref name="runId"/> (its stream is no longer replayed).</summary>
    public async Task DeleteAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.RunStreamEvents.Where(e => e.RunId == runId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes events stored before <paramref name="before"/> (those of instances that stopped before deleting their own); returns how many.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var cutoff = before.UtcDateTime;
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            return await db.RunStreamEvents.Where(e => e.CreatedAt < cutoff).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
