using System.Data.Common;
using System.Globalization;

namespace Steward.Storage;

/// <summary>
/// Writes a run's start and its outcome through statements prepared once on a connection of its own, and commits the
/// writes that queue up meanwhile together (group commit): every run makes these two writes (on SQLite, on its single
/// writer), and one commit per write had each run's pages (the run, its indexes, events, messages, calls, session)
/// written to the log on its own. Each caller waits for its own write to be durable; a write that fails rolls back
/// alone (a savepoint each). Values are stored in the provider's formats (<see cref="StorageBackend"/>), so the rest of
/// the store reads the rows as usual. Thread-safe: one loop owns the connection, and takes the backend's write turn
/// for each batch.
/// </summary>
internal sealed partial class RunWriter : IAsyncDisposable
{
    private const int MaxBatch = 128;
    private static readonly string[] RunColumns =
    [
        "Id", "SessionId", "PresetName", "PresetVersion", "Provider", "Model", "Query", "Status", "StartedAt", "EndedAt", "DurationMs",
        "TimeToFirstTokenMs", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "CostNanoUsd", "Error", "ErrorKind", "TraceId",
        "FromCache", "Owner", "Anomaly", "EvaluationStatus", "FinishReason", "PartialAnswer", "Purpose", "UsageEstimated", "ApiKeyId",
        "UserId", .. InlineCall.Columns,
    ];

    internal static readonly string[] CallColumns =
    [
        "Id", "RunId", "Sequence", "Purpose", "PresetName", "Provider", "Model", "ResponseModel", "StartedAt", "DurationMs", "TimeToFirstTokenMs",
        "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "UsageEstimated", "CostNanoUsd", "SelfHosted", "FromCache",
        "MaxOutputTokens", "FinishReason", "Status", "Error", "Anomaly", "TraceId", "SpanId",
    ];

    private static readonly string[] ToolCallColumns =
        ["RunId", "Sequence", "CallId", "Name", "Server", "Arguments", "ResultPreview", "Error", "DurationMs", "Approval", "StartedAt"];

    private static readonly string[] CitationColumns =
        ["RunId", "Number", "Url", "Title", "Snippet", "Source", "PublishedAt", "StartIndex", "EndIndex"];

    private static readonly Table Runs = new("runs", RunColumns);
    private static readonly Table ToolCalls = new("run_tool_calls", ToolCallColumns);
    private static readonly Table Citations = new("run_citations", CitationColumns);
    private static readonly Table Tags = new("run_tags", ["RunId", "Tag"], rowAtATime: true);
    private static readonly Table Calls = new(InlineCall.RowsTable, CallColumns);
    private static readonly Table Sessions = new("sessions", ["Id", "Title", "PresetName", "CreatedAt", "UpdatedAt"]);
    private static readonly Table Events = new("run_events", ["RunId", "Sequence", "Stage", "Message", "Timestamp"]);
    private static readonly Table Messages = new("messages", ["SessionId", "RunId", "Sequence", "Role", "Content", "CreatedAt"]);

    /// <summary>
    /// What a run is from its start (init-only on <see cref="RunRecord"/>), left out of the update that stores its end:
    /// SQLite rewrites the entry of every index whose columns an UPDATE sets, changed or not, and fires every trigger
    /// <c>UPDATE OF</c> them, so setting these again rewrote three indexes of <c>runs</c> per run for nothing. Left out, six
    /// paired 30-second soaks of bench/Steward.Bench's ungoverned pipeline at 64 concurrent runs served 3,978 -> 4,438 runs
    /// per second (+11.6 %, six of six faster).
    /// </summary>
    internal static readonly string[] StartColumns = ["SessionId", "PresetName", "PresetVersion", "Query", "StartedAt", "Purpose", "ApiKeyId", "UserId"];

    /// <summary>Where each column the end of a run sets is in <see cref="RunColumns"/> (the first, Id, is the key).</summary>
    private static readonly int[] OutcomeIndexes = [.. Enumerable.Range(0, RunColumns.Length).Where(i => !StartColumns.Contains(RunColumns[i]))];

    private static readonly Statement UpdateRun = new(
        $"UPDATE runs SET {string.Join(", ", OutcomeIndexes.Skip(1).Select(i => $"\"{RunColumns[i]}\" = @{RunColumns[i]}"))} WHERE \"Id\" = @Id",
        [.. OutcomeIndexes.Select(i => RunColumns[i])]);

    internal static string InsertCallSql => Calls.Single.Sql;
    private static readonly Statement LastMessage = new("""SELECT MAX("Sequence") FROM messages WHERE "SessionId" = @SessionId""", ["SessionId"]);

    /// <summary>Makes a run stored whole (its insert is not a run's end, which the database counts as activity) its session's latest activity.</summary>
    private static readonly Statement TouchSession = new("""UPDATE sessions SET "UpdatedAt" = @UpdatedAt WHERE "Id" = @Id""", ["UpdatedAt", "Id"]);

    private readonly Dictionary<Statement, WriterStatement> _prepared = [];
    private readonly System.Threading.Channels.Channel<Write> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<Write>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private readonly StorageBackend _backend;
    private readonly Microsoft.Extensions.Logging.ILogger<RunWriter> _logger;
    private readonly Lock _startLock = new();
    private readonly TimeSpan _behindDelay;
    private readonly TimeProvider _time;
    private Task? _loop;
    private DbConnection? _connection;
    private TaskCompletionSource? _hurry;
    private long _batches;
    private long _writes;
    private long _pagesWritten;

    public RunWriter(
        StorageBackend backend, Microsoft.Extensions.Options.IOptions<StorageOptions> options, TimeProvider time,
        Microsoft.Extensions.Logging.ILogger<RunWriter> logger)
    {
        _backend = backend;
        _behindDelay = options.Value.WriteBehindDelay;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Batches committed so far. A commit costs the single writer a share that does not depend on how many writes it
    /// carries (the pages every run changes: rollups, the newest index leaves, the search index's segment, each written to
    /// the log once per commit), so fuller batches cost less per run; bench/Steward.Bench prints writes per batch.
    /// </summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Writes committed so far (a run's start and its outcome are one each).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>
    /// Pages the writer's commits have written so far (SQLite's log; 0 on PostgreSQL). Most of a commit's cost on SQLite is
    /// writing these (two writes to the log each), so pages per run tell, without a clock, how much of the single writer
    /// a kind of run takes: bench/Steward.Bench prints them.
    /// </summary>
    public long PagesWritten => Interlocked.Read(ref _pagesWritten);

    /// <summary>Stores a started run, and its session when the run created it.</summary>
    public Task StartAsync(RunRecord run, SessionRecord? newSession, CancellationToken cancellationToken)
    {
        var write = new Write();
        AddStart(write, run, newSession, newSession?.UpdatedAt, inline: null);
        return EnqueueAsync(write, cancellationToken);
    }

    /// <summary>
    /// Stores a run's outcome: its final state, its progress log, its model calls and, when it completed, the exchange it
    /// added to the conversation, its tool calls and its citations.
    /// </summary>
    public Task FinishAsync(
        RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<ModelCallRecord> calls, DateTime now,
        CancellationToken cancellationToken)
    {
        var write = new Write();
        var inline = InlineCall.Of(run, calls);
        var values = RunValues(_backend, run, inline);
        var outcome = new object?[OutcomeIndexes.Length];
        for (var i = 0; i < outcome.Length; i++)
        {
            outcome[i] = values[OutcomeIndexes[i]];
        }

        write.Updates.Add(outcome);
        // The database makes the run's end its session's latest activity, in the update that adds the run's usage and cost
        // to the session (migration SessionActivityFromRunEnds): touching the session here as well changed its row, and its
        // entries in both covering History indexes, a second time for every run with usage.
        AddOutcome(write, run, events, exchange, inline is null ? calls : [], now, touch: false);
        return EnqueueAsync(write, cancellationToken);
    }

    /// <summary>
    /// Stores a whole run at once, its start and its outcome (and its session when the run created it), for runs whose
    /// start is not written ahead (the gateway's write-behind runs). The caller decides whether to wait for it.
    /// </summary>
    public Task StoreAsync(
        RunRecord run, SessionRecord? newSession, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange,
        IReadOnlyList<ModelCallRecord> calls, DateTime now)
    {
        var write = new Write { Behind = true };
        // A session made here is stored as the run leaves it (its UpdatedAt the run's end): nothing to touch afterwards.
        var inline = InlineCall.Of(run, calls);
        AddStart(write, run, newSession, now, inline);
        AddOutcome(write, run, events, exchange, inline is null ? calls : [], now, touch: newSession is null);
        return EnqueueAsync(write, CancellationToken.None);
    }

    private void AddStart(Write write, RunRecord run, SessionRecord? newSession, DateTime? sessionUpdatedAt, ModelCallRecord? inline)
    {
        if (newSession is not null)
        {
            write.Rows(Sessions).Add([Text(newSession.Id), newSession.Title, newSession.PresetName, Date(newSession.CreatedAt), Date(sessionUpdatedAt ?? newSession.UpdatedAt)]);
            write.NewSession = Text(newSession.Id);
        }

        write.Rows(Runs).Add(RunValues(_backend, run, inline));
        foreach (var tag in run.Tags)
        {
            write.Rows(Tags).Add([Text(run.Id), tag.Tag]);
        }
    }

    private void AddOutcome(
        Write write, RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<ModelCallRecord> calls, DateTime now,
        bool touch)
    {
        var runId = Text(run.Id);
        foreach (var e in events)
        {
            write.Rows(Events).Add([runId, e.Sequence, e.Stage, e.Message, Date(e.Timestamp)]);
        }

        foreach (var call in calls)
        {
            write.Rows(Calls).Add(CallValues(_backend, call));
        }

        foreach (var t in run.ToolCalls)
        {
            write.Rows(ToolCalls).Add([runId, t.Sequence, t.CallId, t.Name, t.Server, t.Arguments, t.ResultPreview, t.Error, t.DurationMs,
                t.Approval, t.StartedAt is { } started ? Date(started) : null]);
        }

        foreach (var c in run.Citations)
        {
            write.Rows(Citations).Add([runId, c.Number, c.Url, c.Title, c.Snippet, c.Source,
                c.PublishedAt is { } published ? Date(published) : null, c.StartIndex, c.EndIndex]);
        }

        var sessionId = Text(run.SessionId);
        if (exchange is { } x)
        {
            write.Exchange = new Exchange(sessionId, runId, x.Query, x.Answer, Date(run.StartedAt), Date(now));
        }

        if (touch)
        {
            write.Touch = (sessionId, Date(now));
        }
    }

    private async Task EnqueueAsync(Write write, CancellationToken cancellationToken)
    {
        // Not cancellable once queued: the write is applied whole or fails whole.
        cancellationToken.ThrowIfCancellationRequested();
        EnsureLoop();
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(write), this);
        if (!write.Behind)
        {
            Volatile.Read(ref _hurry)?.TrySetResult();
        }

        await write.Completion.Task.ConfigureAwait(false);
    }

    private void EnsureLoop()
    {
        if (Volatile.Read(ref _loop) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            // The loop outlives whichever run starts it: it must not inherit that run's trace context.
            using (ExecutionContext.SuppressFlow())
            {
                _loop ??= Task.Run(WriteLoopAsync);
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Write>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            if (!Take(batch) && _behindDelay > TimeSpan.Zero)
            {
                await GatherBehindAsync(batch).ConfigureAwait(false);
            }

            try
            {
                using (await _backend.EnterWriteAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    ApplyBatch(batch);
                }
            }
            catch (Exception ex)
            {
                // Whatever the failure (a database folder removed meanwhile fails to open with a StorageException), the
                // loop must live on: a loop that died left every caller, then and later, waiting for ever, and the
                // process with them (it could not even exit on Ctrl+C, its runs' writes never answering).
                LogBatchFailed(ex, batch.Count);
                Reset();
                foreach (var write in batch)
                {
                    write.Completion.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>Adds the queued writes to <paramref name="batch"/>; whether it must be committed now (full, or someone waits for a write in it).</summary>
    private bool Take(List<Write> batch)
    {
        var now = false;
        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
        {
            batch.Add(write);
            now |= !write.Behind;
        }

        return now || batch.Count == MaxBatch;
    }

    /// <summary>
    /// Waits up to <see cref="StorageOptions.WriteBehindDelay"/> for more writes to commit with <paramref name="batch"/>, whose
    /// writes nobody waits for: one gateway run at a time committed alone cost the writer ~0.7 ms of CPU per run on SQLite
    /// (the pages of the run, its session, messages, calls and every rollup it changes written to the log each time), four
    /// together ~0.3 ms each, sixty-four ~0.15 ms. One timer, not a wake per arriving write; a write someone waits for
    /// (a chat run's start or end) cuts the wait short.
    /// </summary>
    private async Task GatherBehindAsync(List<Write> batch)
    {
        var hurry = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _hurry, hurry);
        // A waited-for write queued between the first take and the line above saw no hurry to set: take it now.
        if (!Take(batch))
        {
            // Ends at the delay (a TimeoutException, suppressed) or when hurried, whichever comes first.
            await hurry.Task.WaitAsync(_behindDelay, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Take(batch);
        }

        Volatile.Write(ref _hurry, null);
    }

    private void ApplyBatch(List<Write> batch)
    {
        var connection = _connection ??= _backend.OpenWriter();
        var failures = new Exception?[batch.Count];
        var transaction = _backend.BeginWrite(connection);
        try
        {
            // The whole batch first, rows of a kind in one statement: a statement that writes a run or a session also indexes
            // its text (the search index's triggers), and the index flushes what it holds at every statement and savepoint,
            // so one statement per row made a segment of the index per row, whose merging grew with the index (the gateway
            // slowed as runs accumulated). Only if that fails does each write go again on its own, so a bad one fails alone.
            if (TryApplyTogether(transaction, batch) is { } failure)
            {
                if (batch.Count == 1)
                {
                    failures[0] = failure;
                }
                else
                {
                    transaction.Dispose();
                    transaction = _backend.BeginWrite(connection);
                    ApplyEachAlone(transaction, batch, failures);
                    transaction.Commit();
                }
            }
            else
            {
                transaction.Commit();
            }
        }
        finally
        {
            transaction.Dispose();
        }

        // Not in the finally: reading the count must never hide the failure a batch ends with (a failed batch's pages
        // are taken with the next one's).
        Interlocked.Add(ref _pagesWritten, _backend.TakePagesWritten(connection));
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _writes, batch.Count);
        // Callers hear of their write only once it is durable.
        for (var i = 0; i < batch.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                batch[i].Completion.TrySetException(failure);
            }
            else
            {
                batch[i].Completion.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Applies the whole batch in <paramref name="transaction"/>, which holds nothing else yet; if a write fails, rolls
    /// the transaction back and returns the failure. No savepoint around the batch: under one, SQLite copies each page the
    /// batch's statements change into a journal in memory (one statement per run's end and per session touched) and trims
    /// it as each ends. In a profile of bench/Steward.Bench at 64 concurrent runs the trimming alone (memjrnlTruncate) was
    /// 2.6 % of the process's CPU; without the savepoint it is gone, and six paired 30-second soaks served 5.8 % more runs
    /// per second (five of six faster).
    /// </summary>
    private DbException? TryApplyTogether(DbTransaction transaction, List<Write> batch)
    {
        try
        {
            Apply(transaction, batch);
            return null;
        }
        catch (DbException ex) when (!_backend.IsContention(ex))
        {
            transaction.Rollback();
            return ex;
        }
    }

    /// <summary>Applies each write under a savepoint of its own, so one bad write does not undo the others; a locked or deadlocked database fails the whole batch.</summary>
    private void ApplyEachAlone(DbTransaction transaction, List<Write> batch, Exception?[] failures)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var savepoint = "w" + i.ToString(CultureInfo.InvariantCulture);
            transaction.Save(savepoint);
            try
            {
                Apply(transaction, batch.GetRange(i, 1));
            }
            catch (DbException ex) when (!_backend.IsContention(ex))
            {
                transaction.Rollback(savepoint);
                failures[i] = ex;
            }

            transaction.Release(savepoint);
        }
    }

    /// <summary>
    /// Applies writes in the order their rows depend on each other (sessions, runs, then what refers to them), each kind
    /// of row of every write in one multi-row statement per <see cref="Table.MaxRows"/> rows.
    /// </summary>
    private void Apply(DbTransaction transaction, List<Write> writes)
    {
        Insert(transaction, Sessions, writes);
        Insert(transaction, Runs, writes);
        Insert(transaction, Tags, writes);
        foreach (var write in writes)
        {
            foreach (var update in write.Updates)
            {
                Execute(transaction, UpdateRun, update);
            }
        }

        Insert(transaction, Events, writes);
        Insert(transaction, Calls, writes);
        Insert(transaction, ToolCalls, writes);
        Insert(transaction, Citations, writes);

        // Each exchange continues its session's messages: a session created in these writes has none yet, and a later
        // exchange of a session continues from the one before it.
        Dictionary<object, int>? last = null;
        HashSet<object>? created = null;
        List<object?[]>? messages = null;
        foreach (var write in writes)
        {
            if (write.Exchange is not { } x)
            {
                continue;
            }

            last ??= [];
            created ??= [.. writes.Select(w => w.NewSession).OfType<object>()];
            if (!last.TryGetValue(x.SessionId, out var sequence))
            {
                sequence = created.Contains(x.SessionId)
                    ? 0
                    : (int)StorageBackend.ToInt64(Command(transaction, LastMessage, x.SessionId).ExecuteScalar(transaction));
            }

            messages ??= [];
            messages.Add([x.SessionId, x.RunId, sequence + 1, "user", x.Query, x.StartedAt]);
            messages.Add([x.SessionId, x.RunId, sequence + 2, "assistant", x.Answer, x.Now]);
            last[x.SessionId] = sequence + 2;
        }

        if (messages is not null)
        {
            Insert(transaction, Messages, messages);
        }

        foreach (var write in writes)
        {
            if (write.Touch is { } touch)
            {
                Execute(transaction, TouchSession, touch.Now, touch.SessionId);
            }
        }
    }

    private void Insert(DbTransaction transaction, Table table, List<Write> writes)
    {
        List<object?[]>? rows = null;
        foreach (var write in writes)
        {
            if (write.RowsOf(table) is { } some)
            {
                if (writes.Count == 1)
                {
                    rows = some;
                    break;
                }

                (rows ??= []).AddRange(some);
            }
        }

        if (rows is not null)
        {
            Insert(transaction, table, rows);
        }
    }

    /// <summary>Inserts rows in as few statements as the prepared sizes (powers of two up to <see cref="Table.MaxRows"/>) allow.</summary>
    private void Insert(DbTransaction transaction, Table table, List<object?[]> rows)
    {
        for (var done = 0; done < rows.Count;)
        {
            var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Min(rows.Count - done, table.MaxRowsPerStatement) + 1) / 2;
            var statement = Command(transaction, table.Sized(size));
            var p = 0;
            for (var r = done; r < done + size; r++)
            {
                foreach (var value in rows[r])
                {
                    statement.Set(p++, value);
                }
            }

            statement.Execute(transaction);
            done += size;
        }
    }

    private void Execute(DbTransaction transaction, Statement statement, params object?[] values) =>
        Command(transaction, statement, values).Execute(transaction);

    private WriterStatement Command(DbTransaction transaction, Statement statement, params object?[] values)
    {
        if (!_prepared.TryGetValue(statement, out var prepared))
        {
            prepared = _backend.PrepareWriter(transaction.Connection!, statement.Sql, statement.Names);
            _prepared[statement] = prepared;
        }

        for (var i = 0; i < values.Length; i++)
        {
            prepared.Set(i, values[i]);
        }

        return prepared;
    }

    // In the order of RunColumns.
    internal static object?[] RunValues(StorageBackend b, RunRecord r, ModelCallRecord? inline) =>
    [
        b.Id(r.Id), b.Id(r.SessionId), r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Query, r.Status, b.Date(r.StartedAt),
        r.EndedAt is { } ended ? b.Date(ended) : null, r.DurationMs, r.TimeToFirstTokenMs, r.InputTokens, r.CachedInputTokens, r.OutputTokens,
        r.ReasoningTokens, r.CostNanoUsd, r.Error, r.ErrorKind, r.TraceId, b.Flag(r.FromCache), r.Owner, r.Anomaly, r.EvaluationStatus, r.FinishReason,
        r.PartialAnswer, r.Purpose, b.Flag(r.UsageEstimated), r.ApiKeyId, r.UserId, .. InlineCall.Values(b, r, inline),
    ];

    internal static object?[] CallValues(StorageBackend b, ModelCallRecord c) =>
    [
        b.Id(c.Id), b.Id(c.RunId), c.Sequence, c.Purpose, c.PresetName, c.Provider, c.Model, c.ResponseModel, b.Date(c.StartedAt),
        c.DurationMs, c.TimeToFirstTokenMs, c.InputTokens, c.CachedInputTokens, c.OutputTokens, c.ReasoningTokens, b.Flag(c.UsageEstimated),
        c.CostNanoUsd, b.Flag(c.SelfHosted), b.Flag(c.FromCache), c.MaxOutputTokens, c.FinishReason, c.Status, c.Error, c.Anomaly, c.TraceId, c.SpanId,
    ];

    private object Text(Guid id) => _backend.Id(id);

    private object Date(DateTime value) => _backend.Date(value);

    /// <summary>Stops taking writes and finishes those queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        Volatile.Read(ref _hurry)?.TrySetResult();
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        Reset();
    }

    private void Reset()
    {
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
        _connection?.Dispose();
        _connection = null;
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1405, Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Storing {Count} run writes failed; each caller is told, and the next batch opens a fresh connection.")]
    private partial void LogBatchFailed(Exception exception, int count);
}
