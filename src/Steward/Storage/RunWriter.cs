using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Steward.Storage;

/// <summary>
/// Writes a run's start and its outcome, each as one transaction, through statements prepared once on a connection of
/// its own. Every run makes these two writes, on SQLite's single writer: with EF's change tracking of a run, its
/// events, messages and model calls, they held the writer longer than everything else a run does. The formats are EF
/// Core's SQLite ones (upper-case text Guids, ISO text timestamps), so the rest of the store reads the rows as usual.
/// Thread-safe: the process-wide <see cref="SqliteWriteLock"/> serialises the use of the connection.
/// </summary>
internal sealed class RunWriter(IOptions<StorageOptions> storage, SqliteWriteLock writeLock) : IDisposable
{
    private const string DateFormat = "yyyy-MM-dd HH:mm:ss.FFFFFFF";

    private static readonly string[] RunColumns =
    [
        "Id", "SessionId", "PresetName", "PresetVersion", "Provider", "Model", "Query", "Status", "StartedAt", "EndedAt", "DurationMs",
        "TimeToFirstTokenMs", "InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "CostNanoUsd", "Error", "ErrorKind", "TraceId",
        "FromCache", "Owner", "Anomaly", "EvaluationStatus", "FinishReason", "PartialAnswer", "Purpose", "UsageEstimated",
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
    private static readonly Statement UpdateRun = new($"UPDATE runs SET {string.Join(", ", RunColumns.Skip(1).Select(c => $"{c} = ${c}"))} WHERE Id = $Id", RunColumns);
    private static readonly Statement InsertCall = Insert("model_calls", CallColumns);

    internal static string InsertCallSql => InsertCall.Sql;
    private static readonly Statement InsertSession = Insert("sessions", ["Id", "Title", "PresetName", "CreatedAt", "UpdatedAt"]);
    private static readonly Statement InsertEvent = Insert("run_events", ["RunId", "Sequence", "Stage", "Message", "Timestamp"]);
    private static readonly Statement InsertMessage = Insert("messages", ["SessionId", "RunId", "Sequence", "Role", "Content", "CreatedAt"]);
    private static readonly Statement LastMessage = new("SELECT MAX(Sequence) FROM messages WHERE SessionId = $SessionId", ["SessionId"]);
    private static readonly Statement TouchSession = new("UPDATE sessions SET UpdatedAt = $UpdatedAt WHERE Id = $Id", ["UpdatedAt", "Id"]);

    private readonly Dictionary<Statement, SqliteCommand> _prepared = [];
    private SqliteConnection? _connection;

    /// <summary>Stores a started run, and its session when the run created it.</summary>
    public async Task StartAsync(RunRecord run, SessionRecord? newSession, CancellationToken cancellationToken)
    {
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        Write(transaction =>
        {
            if (newSession is not null)
            {
                Execute(transaction, InsertSession, Text(newSession.Id), newSession.Title, newSession.PresetName, Date(newSession.CreatedAt), Date(newSession.UpdatedAt));
            }

            Execute(transaction, InsertRun, RunValues(run));
        });
    }

    /// <summary>
    /// Stores a run's outcome: its final state, its progress log, its model calls and, when it completed, the exchange it
    /// added to the conversation, its tool calls and its citations.
    /// </summary>
    public async Task FinishAsync(
        RunRecord run, IReadOnlyList<RunEventRecord> events, (string Query, string Answer)? exchange, IReadOnlyList<ModelCallRecord> calls, DateTime now,
        CancellationToken cancellationToken)
    {
        var tools = run.ToolCalls;
        var citations = run.Citations;
        using var _ = await writeLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
        Write(transaction =>
        {
            Execute(transaction, UpdateRun, RunValues(run));
            foreach (var e in events)
            {
                Execute(transaction, InsertEvent, Text(run.Id), e.Sequence, e.Stage, e.Message, Date(e.Timestamp));
            }

            foreach (var call in calls)
            {
                Execute(transaction, InsertCall, CallValues(call));
            }

            foreach (var t in tools)
            {
                Execute(transaction, InsertToolCall, Text(run.Id), t.Sequence, t.CallId, t.Name, t.Server, t.Arguments, t.ResultPreview, t.Error, t.DurationMs,
                    t.Approval, t.StartedAt is { } started ? Date(started) : null);
            }

            foreach (var c in citations)
            {
                Execute(transaction, InsertCitation, Text(run.Id), c.Number, c.Url, c.Title, c.Snippet, c.Source,
                    c.PublishedAt is { } published ? Date(published) : null, c.StartIndex, c.EndIndex);
            }

            if (exchange is { } x)
            {
                var last = Command(transaction, LastMessage, Text(run.SessionId)).ExecuteScalar() is long sequence ? (int)sequence : 0;
                Execute(transaction, InsertMessage, Text(run.SessionId), Text(run.Id), last + 1, "user", x.Query, Date(run.StartedAt));
                Execute(transaction, InsertMessage, Text(run.SessionId), Text(run.Id), last + 2, "assistant", x.Answer, Date(now));
            }

            Execute(transaction, TouchSession, Date(now), Text(run.SessionId));
        });
    }

    private void Write(Action<SqliteTransaction> body)
    {
        var connection = _connection ??= Open();
        try
        {
            // IMMEDIATE: take SQLite's write lock at the start, so another process's writer makes this wait (busy
            // timeout), not fail half-way.
            using var transaction = connection.BeginTransaction(deferred: false);
            body(transaction);
            transaction.Commit();
        }
        catch (SqliteException)
        {
            // The connection may be unusable; the next write opens a fresh one.
            Reset();
            throw;
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(storage.Value.ResolveConnectionString());
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = SqliteConnectionSettings.Pragmas;
        pragma.ExecuteNonQuery();
        return connection;
    }

    private void Execute(SqliteTransaction transaction, Statement statement, params object?[] values) => Command(transaction, statement, values).ExecuteNonQuery();

    private SqliteCommand Command(SqliteTransaction transaction, Statement statement, params object?[] values)
    {
        if (!_prepared.TryGetValue(statement, out var command))
        {
            command = transaction.Connection!.CreateCommand();
            command.CommandText = statement.Sql;
            foreach (var name in statement.Names)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = "$" + name });
            }

            command.Prepare();
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
        new($"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})", columns);

    /// <summary>A statement and the names of its parameters, in the order values are given (SQLite binds them by name).</summary>
    private sealed record Statement(string Sql, string[] Names);

    // In the order of RunColumns.
    private static object?[] RunValues(RunRecord r) =>
    [
        Text(r.Id), Text(r.SessionId), r.PresetName, r.PresetVersion, r.Provider, r.Model, r.Query, r.Status, Date(r.StartedAt),
        r.EndedAt is { } ended ? Date(ended) : null, r.DurationMs, r.TimeToFirstTokenMs, r.InputTokens, r.CachedInputTokens, r.OutputTokens,
        r.ReasoningTokens, r.CostNanoUsd, r.Error, r.ErrorKind, r.TraceId, r.FromCache ? 1 : 0, r.Owner, r.Anomaly, r.EvaluationStatus, r.FinishReason,
        r.PartialAnswer, r.Purpose, r.UsageEstimated ? 1 : 0,
    ];

    internal static object?[] CallValues(ModelCallRecord c) =>
    [
        Text(c.Id), Text(c.RunId), c.Sequence, c.Purpose, c.PresetName, c.Provider, c.Model, c.ResponseModel, Date(c.StartedAt),
        c.DurationMs, c.TimeToFirstTokenMs, c.InputTokens, c.CachedInputTokens, c.OutputTokens, c.ReasoningTokens, c.UsageEstimated ? 1 : 0,
        c.CostNanoUsd, c.SelfHosted ? 1 : 0, c.FromCache ? 1 : 0, c.MaxOutputTokens, c.FinishReason, c.Status, c.Error, c.Anomaly, c.TraceId, c.SpanId,
    ];

    private static string Text(Guid id) => id.ToString().ToUpperInvariant();

    private static string Date(DateTime value) =>
        (value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).ToString(DateFormat, CultureInfo.InvariantCulture);

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

    public void Dispose() => Reset();
}
