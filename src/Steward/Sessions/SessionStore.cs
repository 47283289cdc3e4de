using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// Sessions, their messages and runs in Steward's database. Each write is one transaction, so a failure never
/// leaves half a run behind. Thread-safe: every call uses its own <see cref="DbContext"/>.
/// </summary>
internal sealed class SessionStore(IDbContextFactory<StewardDbContext> contexts, SqliteWriteLock writeLock, TimeProvider time)
{
    /// <summary>Identifies this process, so a later start can tell a crashed run from one still going.</summary>
    internal static string CurrentOwner { get; } = DescribeOwner();

    public async Task<SessionRecord> GetOrCreateAsync(Guid? sessionId, string preset, string firstQuery, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (sessionId is { } id)
        {
            return await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false)
                ?? throw new SessionNotFoundException(id);
        }

        var now = time.GetUtcNow().UtcDateTime;
        var session = new SessionRecord
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            Title = MakeTitle(firstQuery),
            PresetName = preset,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Sessions.Add(session);
        using (await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        return session;
    }

    /// <summary>The conversation so far, oldest first, as the model should see it.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var messages = await db.Messages.AsNoTracking().Where(m => m.SessionId == sessionId).OrderBy(m => m.Sequence)
            .Select(m => new { m.Role, m.Content }).ToListAsync(cancellationToken).ConfigureAwait(false);
        return messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)).ToArray();
    }

    /// <summary>Records that a run has started, so a crash leaves a trace that the next start can mark.</summary>
    public async Task StartRunAsync(RunRecord run, CancellationToken cancellationToken)
    {
        using var span = Telemetry.StewardTelemetry.ActivitySource.StartActivity(Telemetry.StewardTelemetry.StorageActivityName);
        span?.SetTag(Telemetry.StewardTelemetry.StorageOperationAttribute, "start_run");
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        run.Owner = CurrentOwner;
        run.Status = nameof(RunStatus.Running);
        db.Runs.Add(run);
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores a finished run: its final state, its progress log and, when it completed, the exchange it added to
    /// the conversation, all in one transaction.
    /// </summary>
    public async Task FinishRunAsync(
        RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, CancellationToken cancellationToken)
    {
        using var span = Telemetry.StewardTelemetry.ActivitySource.StartActivity(Telemetry.StewardTelemetry.StorageActivityName);
        span?.SetTag(Telemetry.StewardTelemetry.StorageOperationAttribute, exchange is null ? "finish_run" : "store_answer");
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        db.Runs.Attach(run);
        db.Entry(run).State = EntityState.Modified;
        foreach (var e in events)
        {
            e.RunId = run.Id;
            db.RunEvents.Add(e);
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (exchange is { } x)
        {
            var next = await db.Messages.Where(m => m.SessionId == run.SessionId)
                .MaxAsync(m => (int?)m.Sequence, cancellationToken).ConfigureAwait(false) ?? 0;
            db.Messages.Add(new MessageRecord { SessionId = run.SessionId, RunId = run.Id, Sequence = next + 1, Role = "user", Content = x.Query, CreatedAt = run.StartedAt });
            db.Messages.Add(new MessageRecord { SessionId = run.SessionId, RunId = run.Id, Sequence = next + 2, Role = "assistant", Content = x.Answer, CreatedAt = now });
        }

        await db.Sessions.Where(s => s.Id == run.SessionId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.UpdatedAt, now), cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks runs whose process is gone as <see cref="RunStatus.Interrupted"/>. A run of this machine is checked
    /// against its process; a run of another machine is taken as gone after <paramref name="foreignTimeout"/>.
    /// </summary>
    public async Task<int> MarkInterruptedRunsAsync(TimeSpan foreignTimeout, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var running = await db.Runs.Where(r => r.Status == nameof(RunStatus.Running)).ToListAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow().UtcDateTime;
        var count = 0;
        foreach (var run in running.Where(r => IsOrphan(r, now, foreignTimeout)))
        {
            run.Status = nameof(RunStatus.Interrupted);
            run.EndedAt ??= now;
            run.ErrorKind = "interrupted";
            run.Error = "The process running this request stopped before it finished.";
            count++;
        }

        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    public async Task<IReadOnlyList<ChatSessionSummary>> ListAsync(string? preset, int skip, int take, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Sessions.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(preset))
        {
            query = query.Where(s => s.PresetName == preset);
        }

        var rows = await query.OrderByDescending(s => s.UpdatedAt).Skip(skip).Take(take)
            .Select(s => new
            {
                s.Id, s.Title, s.PresetName, s.CreatedAt, s.UpdatedAt,
                Runs = s.Runs.Count,
                Tokens = s.Runs.Sum(r => (long?)(r.InputTokens + r.OutputTokens)) ?? 0,
                Cost = s.Runs.Sum(r => r.CostNanoUsd),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new ChatSessionSummary(r.Id, r.Title, r.PresetName, Utc(r.CreatedAt), Utc(r.UpdatedAt), r.Runs, r.Tokens, NanoUsd.ToUsd(r.Cost))).ToArray();
    }

    public async Task<ChatSessionDetail> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var session = await LoadRecordAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new SessionNotFoundException(id);
        return ToDetail(session);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var deleted = await db.Sessions.Where(s => s.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            throw new SessionNotFoundException(id);
        }
    }

    internal async Task<SessionRecord?> LoadRecordAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().AsSplitQuery()
            .Include(s => s.Messages).Include(s => s.Runs).ThenInclude(r => r.Events)
            .FirstOrDefaultAsync(s => s.Id == id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Which of <paramref name="runIds"/> are stored, and in which session.</summary>
    internal async Task<IReadOnlyList<(Guid RunId, Guid SessionId)>> FindStoredRunsAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var found = await db.Runs.AsNoTracking().Where(r => runIds.Contains(r.Id)).Select(r => new { r.Id, r.SessionId })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.Select(r => (r.Id, r.SessionId)).ToArray();
    }

    /// <summary>Inserts a whole session (an import) and its runs' evaluations in one transaction.</summary>
    internal async Task InsertRecordAsync(SessionRecord session, IReadOnlyList<EvaluationRecord> evaluations, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.Sessions.Add(session);
        db.Evaluations.AddRange(evaluations);
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static ChatSessionDetail ToDetail(SessionRecord s)
    {
        var runs = s.Runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id).Select(ToRun).ToArray();
        var summary = new ChatSessionSummary(s.Id, s.Title, s.PresetName, Utc(s.CreatedAt), Utc(s.UpdatedAt), runs.Length,
            runs.Sum(r => r.Usage.TotalTokens), NanoUsd.ToUsd(s.Runs.Sum(r => r.CostNanoUsd)));
        var messages = s.Messages.OrderBy(m => m.Sequence)
            .Select(m => new SessionMessage(m.Sequence, m.Role, m.Content, Utc(m.CreatedAt), m.RunId)).ToArray();
        return new ChatSessionDetail(summary, messages, runs);
    }

    private static SessionRun ToRun(RunRecord r) => new(
        r.Id, r.PresetName, r.Provider, r.Model, r.Query, Enum.Parse<RunStatus>(r.Status), Utc(r.StartedAt),
        r.EndedAt is { } e ? Utc(e) : null, r.DurationMs, r.TimeToFirstTokenMs,
        new RunUsage(r.InputTokens, r.CachedInputTokens, r.OutputTokens, r.ReasoningTokens), NanoUsd.ToUsd(r.CostNanoUsd), r.Error, r.TraceId,
        r.Events.OrderBy(e => e.Sequence).Select(e => new SessionRunEvent(e.Sequence, Enum.Parse<RunStage>(e.Stage), e.Message, Utc(e.Timestamp))).ToArray());


    internal static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static string MakeTitle(string query)
    {
        var line = query.ReplaceLineEndings(" ").Trim();
        return line.Length <= 80 ? line : line[..79] + "…";
    }

    private static bool IsOrphan(RunRecord run, DateTime now, TimeSpan foreignTimeout)
    {
        if (run.Owner == CurrentOwner)
        {
            return false;
        }

        var parts = run.Owner.Split('/');
        if (parts.Length != 3 || parts[0] != Environment.MachineName)
        {
            return now - run.StartedAt > foreignTimeout;
        }

        if (!int.TryParse(parts[1], out var pid) || !long.TryParse(parts[2], out var started))
        {
            return true;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            // A reused pid belongs to a different process with a different start time.
            return process.StartTime.ToUniversalTime().Ticks != started;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private static string DescribeOwner()
    {
        using var self = Process.GetCurrentProcess();
        return $"{Environment.MachineName}/{Environment.ProcessId}/{self.StartTime.ToUniversalTime().Ticks}";
    }
}
