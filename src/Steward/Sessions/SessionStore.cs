using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// Sessions, their messages and runs in Steward's database. Each write is one transaction, so a failure never
/// leaves half a run behind. Thread-safe: every call uses its own <see cref="DbContext"/>.
/// </summary>
internal sealed class SessionStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend, RunWriter writer, ProcessLease lease, TimeProvider time)
    : IDisposable
{
    /// <summary>The stored session, or <see cref="SessionNotFoundException"/>.</summary>
    public async Task<SessionRecord> GetSessionAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == sessionId, cancellationToken).ConfigureAwait(false)
            ?? throw new SessionNotFoundException(sessionId);
    }

    /// <summary>A new session, not stored yet: <see cref="StartRunAsync"/> stores it with its first run.</summary>
    public SessionRecord NewSession(string preset, string firstQuery)
    {
        var now = time.GetUtcNow();
        return new SessionRecord
        {
            Id = Storage.RecordIds.NewVersion7(now), Title = MakeTitle(firstQuery), PresetName = preset, CreatedAt = now.UtcDateTime, UpdatedAt = now.UtcDateTime,
        };
    }

    /// <summary>The conversation so far, oldest first, as the model should see it.</summary>
    public async Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var messages = await db.Messages.AsNoTracking().Where(m => m.SessionId == sessionId).OrderBy(m => m.Sequence)
            .Select(m => new { m.Role, m.Content }).ToListAsync(cancellationToken).ConfigureAwait(false);
        return messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)).ToArray();
    }

    /// <summary>
    /// Records that a run has started (with its new session, in the same transaction), owned by this process's lease, so
    /// a crash leaves a trace that a live process marks.
    /// </summary>
    public async Task StartRunAsync(RunRecord run, SessionRecord? newSession, CancellationToken cancellationToken)
    {
        using var span = Telemetry.StewardTelemetry.ActivitySource.StartActivity(Telemetry.StewardTelemetry.StorageActivityName);
        span?.SetTag(Telemetry.StewardTelemetry.StorageOperationAttribute, "start_run");
        run.Owner = lease.Id;
        run.Status = nameof(RunStatus.Running);
        await writer.StartAsync(run, newSession, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores a finished run in one transaction: its final state, its progress log, its model calls and, when it
    /// completed, the exchange it added to the conversation.
    /// </summary>
    public async Task FinishRunAsync(
        RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<Calls.ModelCall> calls,
        CancellationToken cancellationToken)
    {
        using var span = Telemetry.StewardTelemetry.ActivitySource.StartActivity(Telemetry.StewardTelemetry.StorageActivityName);
        span?.SetTag(Telemetry.StewardTelemetry.StorageOperationAttribute, exchange is null ? "finish_run" : "store_answer");
        await writer.FinishAsync(run, events, exchange, [.. calls.Select(c => Calls.ModelCallStore.ToRecord(c, run.PresetName))], time.GetUtcNow().UtcDateTime,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Queues a whole run (start, outcome, its new session) as one write without waiting for it: the write-behind path of
    /// gateway runs. At most <see cref="WriteBehindCapacity"/> such writes wait at once; past that the caller waits for
    /// room, so a storage slower than the traffic slows the traffic rather than filling memory. The returned task ends
    /// when the write is durable (or failed).
    /// </summary>
    public async Task<Task> StoreBehindAsync(
        RunRecord run, SessionRecord? newSession, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<Calls.ModelCall> calls)
    {
        run.Owner = lease.Id;
        await _room.WaitAsync().ConfigureAwait(false);
        try
        {
            var write = writer.StoreAsync(run, newSession, events, exchange, [.. calls.Select(c => Calls.ModelCallStore.ToRecord(c, run.PresetName))], time.GetUtcNow().UtcDateTime);
            _ = write.ContinueWith(static (_, room) => ((SemaphoreSlim)room!).Release(), _room, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return write;
        }
        catch
        {
            _room.Release();
            throw;
        }
    }

    /// <summary>How many write-behind runs may wait to be stored at once.</summary>
    public const int WriteBehindCapacity = 4096;

    private readonly SemaphoreSlim _room = new(WriteBehindCapacity, WriteBehindCapacity);

    public void Dispose() => _room.Dispose();

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

    public async Task<IReadOnlyDictionary<string, int>> CountByPresetAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().GroupBy(s => s.PresetName).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, StringComparer.Ordinal, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var _ = await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
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
            .Include(s => s.Messages).Include(s => s.Runs).ThenInclude(r => r.Events).Include(s => s.Runs).ThenInclude(r => r.Calls)
            .Include(s => s.Runs).ThenInclude(r => r.ToolCalls).Include(s => s.Runs).ThenInclude(r => r.Citations)
            .Include(s => s.Runs).ThenInclude(r => r.Feedback).Include(s => s.Runs).ThenInclude(r => r.Tags)
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
        using var _ = await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
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
        r.Events.OrderBy(e => e.Sequence).Select(e => new SessionRunEvent(e.Sequence, Enum.Parse<RunStage>(e.Stage), e.Message, Utc(e.Timestamp))).ToArray())
    {
        ToolCalls = r.ToolCalls.OrderBy(t => t.Sequence).Select(ToolRecords.FromRecord).ToArray(),
        Citations = r.Citations.OrderBy(c => c.Number).Select(ToolRecords.FromRecord).ToArray(),
        PartialAnswer = r.PartialAnswer,
        FinishReason = r.FinishReason,
        Anomaly = r.Anomaly,
        UsageEstimated = r.UsageEstimated,
        SelfHosted = r.Calls.Count > 0 && r.Calls.All(c => c.SelfHosted),
        Feedback = r.Feedback is { } f ? Evaluation.FeedbackStore.ToFeedback(f) : null,
        Tags = r.Tags.Select(t => t.Tag).Order(StringComparer.Ordinal).ToArray(),
        UserId = r.UserId,
    };


    internal static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static string MakeTitle(string query)
    {
        var line = query.ReplaceLineEndings(" ").Trim();
        return line.Length <= 80 ? line : line[..79] + "…";
    }
}
