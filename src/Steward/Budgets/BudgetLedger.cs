using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>One counter a reservation holds: the amount reserved and the hard limits it was checked against.</summary>
internal sealed record LedgerLine(string ScopeKey, string PeriodStart, long Tokens, long NanoUsd, long? LimitTokens, long? LimitNanoUsd);

/// <summary>A counter's amounts.</summary>
internal sealed record CounterState(string ScopeKey, string PeriodStart, long SpentTokens, long SpentNanoUsd, long ReservedTokens, long ReservedNanoUsd);

/// <summary>How a settlement moved a counter's spent amounts.</summary>
internal sealed record CounterChange(string ScopeKey, string PeriodStart, long SpentTokensBefore, long SpentNanoUsdBefore, long SpentTokensAfter, long SpentNanoUsdAfter);

/// <summary>An alert to record once per policy, period and threshold.</summary>
internal sealed record AlertKey(string PolicyId, string PeriodStart, int Threshold);

/// <summary>
/// The budget ledger: reserve the worst case on every counter a run touches (all or nothing), settle to actuals,
/// release on failure, expire reservations whose process died. The database is the source of truth, so several
/// processes sharing it stay exact. Within a process one writer loop applies queued operations in a single
/// <c>BEGIN IMMEDIATE</c> transaction with a savepoint per operation (group commit): decisions stay exact and
/// serialised, and concurrent runs share one commit. Thread-safe.
/// </summary>
internal sealed partial class BudgetLedger : IAsyncDisposable
{
    private const int MaxBatch = 256;

    private readonly Channel<LedgerOp> _queue = Channel.CreateUnbounded<LedgerOp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger<BudgetLedger> _logger;
    private readonly Task _writer;
    private readonly CancellationTokenSource _stopping = new();

    // Prepared statements of the writer connection, reused across operations (preparing costs more than running
    // these one-row statements). Touched only by the writer loop.
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);

    private readonly SqliteWriteLock _writeLock;

    public BudgetLedger(IOptions<StorageOptions> storage, SqliteWriteLock writeLock, TimeProvider time, ILogger<BudgetLedger> logger)
    {
        _writeLock = writeLock;
        _connectionString = storage.Value.ResolveConnectionString();
        _time = time;
        _logger = logger;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Reserves every line, or none. Returns <see langword="null"/> when granted, else the refused line and its counter.</summary>
    public Task<(LedgerLine Line, CounterState State)?> ReserveAsync(string reservationId, IReadOnlyList<LedgerLine> lines, TimeSpan holdFor, CancellationToken cancellationToken) =>
        Enqueue(tx => Reserve(tx, reservationId, lines, holdFor), cancellationToken);

    /// <summary>Replaces the reservation with actual amounts on each of its counters; returns how each counter's spend moved.</summary>
    public Task<IReadOnlyList<CounterChange>> SettleAsync(string reservationId, IReadOnlyList<LedgerLine> lines, long tokens, long nanoUsd, CancellationToken cancellationToken) =>
        Enqueue<IReadOnlyList<CounterChange>>(tx => (Settle(tx, reservationId, lines, tokens, nanoUsd), false), cancellationToken);

    /// <summary>Gives a reservation back. Safe to call for a reservation that expired or was settled already.</summary>
    public Task ReleaseAsync(string reservationId, CancellationToken cancellationToken) =>
        Enqueue(tx => (ReleaseById(tx, reservationId), false), cancellationToken);

    /// <summary>Releases reservations held past their expiry (their process crashed). Returns how many.</summary>
    public Task<int> ExpireAsync(CancellationToken cancellationToken) =>
        Enqueue(tx => (Expire(tx), false), cancellationToken);

    /// <summary>Records alerts; returns those not recorded before (each fires once per period).</summary>
    public Task<IReadOnlyList<AlertKey>> RecordAlertsAsync(IReadOnlyList<AlertKey> alerts, CancellationToken cancellationToken) =>
        Enqueue<IReadOnlyList<AlertKey>>(tx => (RecordAlerts(tx, alerts), false), cancellationToken);

    /// <summary>Sets a counter's spent amounts back to zero (reservations in flight stay held).</summary>
    public Task ResetAsync(string scopeKey, string periodStart, CancellationToken cancellationToken) =>
        Enqueue(tx => (Execute(tx, "UPDATE budget_counters SET SpentTokens = 0, SpentNanoUsd = 0, UpdatedAt = $now WHERE ScopeKey = $k AND PeriodStart = $p",
            ("$now", Now()), ("$k", scopeKey), ("$p", periodStart)), false), cancellationToken);

    /// <summary>Reads counters (missing ones are reported as zero).</summary>
    public async Task<IReadOnlyList<CounterState>> ReadAsync(IReadOnlyCollection<(string ScopeKey, string PeriodStart)> keys, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<CounterState>(keys.Count);
        foreach (var (key, period) in keys)
        {
            result.Add(ReadCounter(connection, null, key, period));
        }

        return result;
    }

    private async Task<T> Enqueue<T>(Func<SqliteTransaction, (T Result, bool Undo)> apply, CancellationToken cancellationToken)
    {
        // The operation is not cancellable once queued: a reservation must be applied or refused whole.
        cancellationToken.ThrowIfCancellationRequested();
        var op = new LedgerOp<T>(apply);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(op), this);
        return await op.Completion.Task.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<LedgerOp>(MaxBatch);
        SqliteConnection? connection = null;
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var op))
                {
                    batch.Add(op);
                }

                try
                {
                    connection ??= await OpenAsync().ConfigureAwait(false);
                    using (await _writeLock.AcquireAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        ApplyBatch(connection, batch);
                    }
                }
                catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException)
                {
                    LogBatchFailed(ex, batch.Count);
                    foreach (var op in batch)
                    {
                        op.Fail(ex);
                    }

                    DropPrepared();
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            DropPrepared();
            connection?.Dispose();
            while (_queue.Reader.TryRead(out var op))
            {
                op.Fail(new ObjectDisposedException(nameof(BudgetLedger)));
            }
        }
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = SqliteConnectionSettings.Pragmas;
        pragma.ExecuteNonQuery();
        return connection;
    }

    private void DropPrepared()
    {
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
    }

    private static void ApplyBatch(SqliteConnection connection, List<LedgerOp> batch)
    {
        using var tx = connection.BeginTransaction(deferred: false);
        var outcomes = new List<Action>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var op = batch[i];
            var savepoint = "op" + i.ToString(CultureInfo.InvariantCulture);
            tx.Save(savepoint);
            try
            {
                var (publish, undo) = op.Apply(tx);
                if (undo)
                {
                    // A refused reservation: take back the lines it reserved before the one that did not fit.
                    tx.Rollback(savepoint);
                }

                tx.Release(savepoint);
                outcomes.Add(publish);
            }
            catch (Exception ex) when (ex is not SqliteException { SqliteErrorCode: 5 or 6 })
            {
                // One bad operation must not undo the others in its batch; a locked database fails the whole batch.
                tx.Rollback(savepoint);
                tx.Release(savepoint);
                var failed = op;
                outcomes.Add(() => failed.Fail(ex));
            }
        }

        tx.Commit();
        // Results are published only once they are durable.
        foreach (var outcome in outcomes)
        {
            outcome();
        }
    }

    private ((LedgerLine, CounterState)? Refusal, bool Undo) Reserve(SqliteTransaction tx, string reservationId, IReadOnlyList<LedgerLine> lines, TimeSpan holdFor)
    {
        var now = Now();
        foreach (var line in lines)
        {
            var updated = TryReserveLine(tx, line, now);
            if (updated == 0 && Execute(tx,
                    "INSERT INTO budget_counters (ScopeKey, PeriodStart, SpentTokens, SpentNanoUsd, ReservedTokens, ReservedNanoUsd, UpdatedAt) " +
                    "VALUES ($k, $p, 0, 0, 0, 0, $now) ON CONFLICT DO NOTHING", ("$k", line.ScopeKey), ("$p", line.PeriodStart), ("$now", now)) > 0)
            {
                // A new period or scope: the counter exists now, try again.
                updated = TryReserveLine(tx, line, now);
            }

            if (updated == 0)
            {
                return ((line, ReadCounter(tx.Connection!, tx, line.ScopeKey, line.PeriodStart)), Undo: true);
            }
        }

        Execute(tx, "INSERT INTO budget_reservations (Id, Lines, CreatedAt, ExpiresAt, Owner) VALUES ($id, $lines, $now, $exp, $owner)",
            ("$id", reservationId), ("$lines", JsonSerializer.Serialize(lines.Select(l => new HeldLine(l.ScopeKey, l.PeriodStart, l.Tokens, l.NanoUsd)).ToArray())),
            ("$now", now), ("$exp", now + holdFor), ("$owner", Sessions.SessionStore.CurrentOwner));
        return (null, Undo: false);
    }

    private int TryReserveLine(SqliteTransaction tx, LedgerLine line, DateTime now) =>
            Execute(tx,
                "UPDATE budget_counters SET ReservedTokens = ReservedTokens + $t, ReservedNanoUsd = ReservedNanoUsd + $u, UpdatedAt = $now " +
                "WHERE ScopeKey = $k AND PeriodStart = $p " +
                "AND ($lt IS NULL OR SpentTokens + ReservedTokens + $t <= $lt) AND ($lu IS NULL OR SpentNanoUsd + ReservedNanoUsd + $u <= $lu)",
                ("$t", line.Tokens), ("$u", line.NanoUsd), ("$now", now), ("$k", line.ScopeKey), ("$p", line.PeriodStart),
                ("$lt", line.LimitTokens), ("$lu", line.LimitNanoUsd));

    private List<CounterChange> Settle(SqliteTransaction tx, string reservationId, IReadOnlyList<LedgerLine> lines, long tokens, long nanoUsd)
    {
        // If the reservation expired meanwhile (released by an expiry sweep), its hold is gone: add the spend only.
        var held = TakeReservation(tx, reservationId);
        var now = Now();
        var changes = new List<CounterChange>(lines.Count);
        foreach (var line in lines)
        {
            var hold = held?.FirstOrDefault(h => h.K == line.ScopeKey && h.P == line.PeriodStart);
            var command = Command(tx,
                "UPDATE budget_counters SET ReservedTokens = MAX(ReservedTokens - $rt, 0), ReservedNanoUsd = MAX(ReservedNanoUsd - $ru, 0), " +
                "SpentTokens = SpentTokens + $t, SpentNanoUsd = SpentNanoUsd + $u, UpdatedAt = $now WHERE ScopeKey = $k AND PeriodStart = $p " +
                "RETURNING SpentTokens, SpentNanoUsd",
                ("$rt", hold?.T ?? 0), ("$ru", hold?.U ?? 0), ("$t", tokens), ("$u", nanoUsd), ("$now", now), ("$k", line.ScopeKey), ("$p", line.PeriodStart));
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                var spentTokens = reader.GetInt64(0);
                var spentNano = reader.GetInt64(1);
                changes.Add(new CounterChange(line.ScopeKey, line.PeriodStart, spentTokens - tokens, spentNano - nanoUsd, spentTokens, spentNano));
            }
        }

        return changes;
    }

    private bool ReleaseById(SqliteTransaction tx, string reservationId)
    {
        var held = TakeReservation(tx, reservationId);
        if (held is not null)
        {
            Unhold(tx, held);
        }

        return held is not null;
    }

    private int Expire(SqliteTransaction tx)
    {
        var expired = new List<HeldLine[]>();
        using (var reader = Command(tx, "DELETE FROM budget_reservations WHERE ExpiresAt < $now RETURNING Lines", ("$now", Now())).ExecuteReader())
        {
            while (reader.Read())
            {
                expired.Add(JsonSerializer.Deserialize<HeldLine[]>(reader.GetString(0)) ?? []);
            }
        }

        foreach (var lines in expired)
        {
            Unhold(tx, lines);
        }

        return expired.Count;
    }

    private List<AlertKey> RecordAlerts(SqliteTransaction tx, IReadOnlyList<AlertKey> alerts)
    {
        var fresh = new List<AlertKey>();
        foreach (var alert in alerts)
        {
            if (Execute(tx, "INSERT INTO budget_alerts (PolicyId, PeriodStart, Threshold, FiredAt) VALUES ($id, $p, $th, $now) ON CONFLICT DO NOTHING",
                    ("$id", alert.PolicyId), ("$p", alert.PeriodStart), ("$th", alert.Threshold), ("$now", Now())) > 0)
            {
                fresh.Add(alert);
            }
        }

        return fresh;
    }

    private HeldLine[]? TakeReservation(SqliteTransaction tx, string reservationId)
    {
        var lines = Command(tx, "DELETE FROM budget_reservations WHERE Id = $id RETURNING Lines", ("$id", reservationId)).ExecuteScalar() as string;
        return lines is null ? null : JsonSerializer.Deserialize<HeldLine[]>(lines) ?? [];
    }

    private void Unhold(SqliteTransaction tx, IEnumerable<HeldLine> lines)
    {
        foreach (var line in lines)
        {
            Execute(tx, "UPDATE budget_counters SET ReservedTokens = MAX(ReservedTokens - $t, 0), ReservedNanoUsd = MAX(ReservedNanoUsd - $u, 0), UpdatedAt = $now " +
                        "WHERE ScopeKey = $k AND PeriodStart = $p", ("$t", line.T), ("$u", line.U), ("$now", Now()), ("$k", line.K), ("$p", line.P));
        }
    }

    private static CounterState ReadCounter(SqliteConnection connection, SqliteTransaction? tx, string key, string period)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "SELECT SpentTokens, SpentNanoUsd, ReservedTokens, ReservedNanoUsd FROM budget_counters WHERE ScopeKey = $k AND PeriodStart = $p";
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$p", period);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new CounterState(key, period, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : new CounterState(key, period, 0, 0, 0, 0);
    }

    private DateTime Now() => _time.GetUtcNow().UtcDateTime;

    private int Execute(SqliteTransaction tx, string sql, params (string Name, object? Value)[] parameters) =>
        Command(tx, sql, parameters).ExecuteNonQuery();

    /// <summary>The prepared statement for <paramref name="sql"/>, bound to this transaction and these values. Not to be disposed.</summary>
    private SqliteCommand Command(SqliteTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_prepared.TryGetValue(sql, out var command))
        {
            command = tx.Connection!.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, _) in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            command.Prepare();
            _prepared[sql] = command;
        }

        command.Transaction = tx;
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters[i].Value = parameters[i].Value ?? DBNull.Value;
        }

        return command;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _writer.ConfigureAwait(false);
        }
        finally
        {
            _stopping.Dispose();
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "A batch of {Count} budget ledger operations failed; each caller gets the error.")]
    private partial void LogBatchFailed(Exception exception, int count);

    private sealed record HeldLine(string K, string P, long T, long U);

    private abstract class LedgerOp
    {
        /// <summary>Applies the operation; returns how to publish its result after commit, and whether to undo it.</summary>
        public abstract (Action Publish, bool Undo) Apply(SqliteTransaction tx);

        public abstract void Fail(Exception exception);
    }

    private sealed class LedgerOp<T>(Func<SqliteTransaction, (T Result, bool Undo)> apply) : LedgerOp
    {
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override (Action Publish, bool Undo) Apply(SqliteTransaction tx)
        {
            var (result, undo) = apply(tx);
            return (() => Completion.TrySetResult(result), undo);
        }

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }
}
