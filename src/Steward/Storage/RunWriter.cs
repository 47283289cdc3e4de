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
        "UserId",
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

    private static readonly Statement InsertRun = Insert("runs", RunColumns);
    private static readonly Statement InsertToolCall = Insert("run_tool_calls", ToolCallColumns);
    private static readonly Statement InsertCitation = Insert("run_citations", CitationColumns);
    private static readonly Statement InsertTag = Insert("run_tags", ["RunId", "Tag"]);
    private static readonly Statement UpdateRun = new($"UPDATE runs SET {string.Join(", ", RunColumns.Skip(1).Select(c => $"\"{c}\" = @{c}"))} WHERE \"Id\" = @Id", RunColumns);
    private static readonly Statement InsertCall = Insert("model_calls", CallColumns);

    internal static string InsertCallSql => InsertCall.Sql;
    private static readonly Statement InsertSession = Insert("sessions", ["Id", "Title", "PresetName", "CreatedAt", "UpdatedAt"]);
    private static readonly Statement InsertEvent = Insert("run_events", ["RunId", "Sequence", "Stage", "Message", "Timestamp"]);
    private static readonly Statement InsertMessage = Insert("messages", ["SessionId", "RunId", "Sequence", "Role", "Content", "CreatedAt"]);
    private static readonly Statement LastMessage = new("""SELECT MAX("Sequence") FROM messages WHERE "SessionId" = @SessionId""", ["SessionId"]);
    private static readonly Statement TouchSession = new("""UPDATE sessions SET "UpdatedAt" = @UpdatedAt WHERE "Id" = @Id""", ["UpdatedAt", "Id"]);

    private readonly Dictionary<Statement, DbCommand> _prepared = [];
    private readonly System.Threading.Channels.Channel<Write> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<Write>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private readonly StorageBackend _backend;
    private readonly Microsoft.Extensions.Logging.ILogger<RunWriter> _logger;
    private readonly Lock _startLock = new();
    private Task? _loop;
    private DbConnection? _connection;

    public RunWriter(StorageBackend backend, Microsoft.Extensions.Logging.ILogger<RunWriter> logger)
    {
        _backend = backend;
        _logger = logger;
    }

    /// <summary>Stores a started run, and its session when the run created it.</summary>
    public Task StartAsync(RunRecord run, SessionRecord? newSession, CancellationToken cancellationToken) => EnqueueAsync(transaction =>
    {
        if (newSession is not null)
        {
            Execute(transaction, InsertSession, Text(newSession.Id), newSession.Title, newSession.PresetName, Date(newSession.CreatedAt), Date(newSession.UpdatedAt));
        }

        Execute(transaction, InsertRun, RunValues(_backend, run));
        foreach (var tag in run.Tags)
        {
            Execute(transaction, InsertTag, Text(run.Id), tag.Tag);
        }
    }, cancellationToken);

    /// <summary>
    /// Stores a run's outcome: its final state, its progress log, its model calls and, when it completed, the exchange it
    /// added to the conversation, its tool calls and its citations.
    /// </summary>
    public Task FinishAsync(
        RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<ModelCallRecord> calls, DateTime now,
        CancellationToken cancellationToken) => EnqueueAsync(transaction =>
    {
        Execute(transaction, UpdateRun, RunValues(_backend, run));
        WriteOutcome(transaction, run, events, exchange, calls, now);
    }, cancellationToken);

    /// <summary>
    /// Stores a whole run at once, its start and its outcome (and its session when the run created it), for runs whose
    /// start is not written ahead (the gateway's write-behind runs). The caller decides whether to wait for it.
    /// </summary>
    public Task StoreAsync(
        RunRecord run, SessionRecord? newSession, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange,
        IReadOnlyList<ModelCallRecord> calls, DateTime now) => EnqueueAsync(transaction =>
    {
        if (newSession is not null)
        {
            Execute(transaction, InsertSession, Text(newSession.Id), newSession.Title, newSession.PresetName, Date(newSession.CreatedAt), Date(newSession.UpdatedAt));
        }

        Execute(transaction, InsertRun, RunValues(_backend, run));
        foreach (var tag in run.Tags)
        {
            Execute(transaction, InsertTag, Text(run.Id), tag.Tag);
        }
        WriteOutcome(transaction, run, events, exchange, calls, now);
    }, CancellationToken.None);

    private void WriteOutcome(
        DbTransaction transaction, RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<ModelCallRecord> calls, DateTime now)
    {
        foreach (var e in events)
        {
            Execute(transaction, InsertEvent, Text(run.Id), e.Sequence, e.Stage, e.Message, Date(e.Timestamp));
        }

        foreach (var call in calls)
        {
            Execute(transaction, InsertCall, CallValues(_backend, call));
        }

        foreach (var t in run.ToolCalls)
        {
            Execute(transaction, InsertToolCall, Text(run.Id), t.Sequence, t.CallId, t.Name, t.Server, t.Arguments, t.ResultPreview, t.Error, t.DurationMs,
                t.Approval, t.StartedAt is { } started ? Date(started) : null);
        }

        foreach (var c in run.Citations)
        {
            Execute(transaction, InsertCitation, Text(run.Id), c.Number, c.Url, c.Title, c.Snippet, c.Source,
                c.PublishedAt is { } published ? Date(published) : null, c.StartIndex, c.EndIndex);
        }

        if (exchange is { } x)
        {
            var last = (int)StorageBackend.ToInt64(Command(transaction, LastMessage, Text(run.SessionId)).ExecuteScalar());
            Execute(transaction, InsertMessage, Text(run.SessionId), Text(run.Id), last + 1, "user", x.Query, Date(run.StartedAt));
            Execute(transaction, InsertMessage, Text(run.SessionId), Text(run.Id), last + 2, "assistant", x.Answer, Date(now));
        }

        Execute(transaction, TouchSession, Date(now), Text(run.SessionId));
    }

    private async Task EnqueueAsync(Action<DbTransaction> body, CancellationToken cancellationToken)
    {
        // Not cancellable once queued: the write is applied whole or fails whole.
        cancellationToken.ThrowIfCancellationRequested();
        EnsureLoop();
        var write = new Write(body);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(write), this);
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
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
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

    private void ApplyBatch(List<Write> batch)
    {
        var connection = _connection ??= _backend.OpenWriter();
        using var transaction = _backend.BeginWrite(connection);
        var failures = new Exception?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var savepoint = "w" + i.ToString(CultureInfo.InvariantCulture);
            transaction.Save(savepoint);
            try
            {
                batch[i].Body(transaction);
            }
            catch (DbException ex) when (!_backend.IsContention(ex))
            {
                // One bad write must not undo the others in its batch; a locked or deadlocked database fails the whole batch.
                transaction.Rollback(savepoint);
                failures[i] = ex;
            }

            transaction.Release(savepoint);
        }

        transaction.Commit();
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

    private void Execute(DbTransaction transaction, Statement statement, params object?[] values) => Command(transaction, statement, values).ExecuteNonQuery();

    private DbCommand Command(DbTransaction transaction, Statement statement, params object?[] values)
    {
        if (!_prepared.TryGetValue(statement, out var command))
        {
            command = transaction.Connection!.CreateCommand();
            command.CommandText = statement.Sql;
            foreach (var name in statement.Names)
            {
                var parameter = command.CreateParameter();
                // Named as written in the SQL: Microsoft.Data.Sqlite looks an unprefixed name up under every prefix it
                // knows (four native lookups, each a UTF-8 copy) on every execution; in a profile of the benchmark that
                // was a tenth of the process's CPU.
                parameter.ParameterName = "@" + name;
                command.Parameters.Add(parameter);
            }

            _backend.Prepare(command);
            _prepared[statement] = command;
        }

        command.Transaction = transaction;
        var parameters = command.Parameters;
        for (var i = 0; i < values.Length; i++)
        {
            parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return command;
    }

    private static Statement Insert(string table, string[] columns) =>
        new($"INSERT INTO {table} ({string.Join(", ", columns.Select(c => $"\"{c}\""))}) VALUES ({string.Join(", ", columns.Select(c => "@" + c))})", columns);

    /// <summary>A statement and the names of its parameters, in the order values are given (bound by name).</summary>
    private sealed record Statement(string Sql, string[] Names);

    // In the order of RunColumns.
    internal static object?[] RunValues(StorageBackend b, RunRecord r) =>
    [
        b.Id(r.Id), b.Id(r.SessionId), r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Query, r.Status, b.Date(r.StartedAt),
        r.EndedAt is { } ended ? b.Date(ended) : null, r.DurationMs, r.TimeToFirstTokenMs, r.InputTokens, r.CachedInputTokens, r.OutputTokens,
        r.ReasoningTokens, r.CostNanoUsd, r.Error, r.ErrorKind, r.TraceId, b.Flag(r.FromCache), r.Owner, r.Anomaly, r.EvaluationStatus, r.FinishReason,
        r.PartialAnswer, r.Purpose, b.Flag(r.UsageEstimated), r.ApiKeyId, r.UserId,
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

    private sealed class Write(Action<DbTransaction> body)
    {
        public Action<DbTransaction> Body { get; } = body;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1405, Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Storing {Count} run writes failed; each caller is told, and the next batch opens a fresh connection.")]
    private partial void LogBatchFailed(Exception exception, int count);
}
