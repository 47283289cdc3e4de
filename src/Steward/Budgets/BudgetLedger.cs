using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>
/// One counter a call holds on, with the hard limits it is checked against (the same for every call of a preset: kept
/// with the preset's plan, only a session's made per call). For a session's counter,
/// <paramref name="JudgeSpendCounts"/> says whether the session's judge calls count on it (they do unless a judge budget
/// takes them), which the counter's spend read from the session's stored runs must then include.
/// </summary>
internal sealed record LedgerLine(string ScopeKey, string PeriodStart, long? LimitTokens, long? LimitNanoUsd, bool JudgeSpendCounts = false);

/// <summary>A counter's amounts.</summary>
internal sealed record CounterState(string ScopeKey, string PeriodStart, long SpentTokens, long SpentNanoUsd, long ReservedTokens, long ReservedNanoUsd);

/// <summary>How a settlement moved a counter's spent amounts.</summary>
internal readonly record struct CounterChange(string ScopeKey, string PeriodStart, long SpentTokensBefore, long SpentNanoUsdBefore, long SpentTokensAfter, long SpentNanoUsdAfter);

/// <summary>
/// How much an escrow must add on a counter (<paramref name="WantTokens"/>, checked against the limits), and the
/// headroom it may take beyond that for the runs that follow: whole runs of (<paramref name="RunTokens"/>,
/// <paramref name="RunNanoUsd"/>), at most <paramref name="MaxRuns"/>, and never more than an eighth of what is still
/// free. Whole runs, so no process keeps a fraction of a run another process could have used with what is free.
/// <paramref name="AddTokens"/> is a hold already taken locally (a new session's counter) that is written first, unchecked.
/// <paramref name="JudgeSpendCounts"/> is <see cref="LedgerLine.JudgeSpendCounts"/>.
/// </summary>
internal sealed record EscrowGrowth(
    string ScopeKey, string PeriodStart, long WantTokens, long WantNanoUsd, long RunTokens, long RunNanoUsd, int MaxRuns,
    long? LimitTokens, long? LimitNanoUsd, long AddTokens = 0, long AddNanoUsd = 0, bool JudgeSpendCounts = false);

/// <summary>What an escrow was granted on a counter, and the counter's spend when it was.</summary>
internal sealed record EscrowGrant(string ScopeKey, string PeriodStart, long Tokens, long NanoUsd, long SpentTokens, long SpentNanoUsd);

/// <summary>
/// An escrow's write-back for one counter: actual spend to add, held amounts to give back, and holds taken locally
/// (a new session's counter) to add.
/// </summary>
internal sealed record EscrowFlush(
    string ScopeKey, string PeriodStart, long SpentTokens, long SpentNanoUsd, long ReturnTokens, long ReturnNanoUsd, long AddTokens, long AddNanoUsd);

/// <summary>A counter's spend after an escrow flush.</summary>
internal sealed record CounterSpend(string ScopeKey, string PeriodStart, long SpentTokens, long SpentNanoUsd);

/// <summary>An alert to record once per policy, period and threshold.</summary>
internal sealed record AlertKey(string PolicyId, string PeriodStart, int Threshold);

/// <summary>
/// The budget counters in the database: processes take holds on them (see <see cref="BudgetEscrow"/>) with atomic
/// conditional updates checked against the limits, write spend back, and release the holds of processes that died.
/// The database is the source of truth, so several processes sharing it never spend past a limit. Within a process
/// one writer loop applies queued operations in a single transaction with a savepoint per operation (group commit):
/// decisions stay exact and serialised, and concurrent operations share one commit. Across processes, SQLite's
/// <c>BEGIN IMMEDIATE</c> serialises whole transactions; on PostgreSQL, where transactions run side by side, a batch
/// first locks every counter it will touch, in one fixed (ordinal) order, so that each read-check-update is made on a
/// locked row and two instances never wait for each other in a cycle; a deadlock the order cannot foresee (a sweep
/// meeting a hold that changed meanwhile) rolls the batch back and it is applied again. On SQLite the ledger is a file of
/// its own (<see cref="StorageFile.Budgets"/>), so its short transactions never queue behind the runs' writes to the main
/// file, nor those behind it. Thread-safe.
/// </summary>
internal sealed partial class BudgetLedger : IAsyncDisposable
{
    private const int MaxBatch = 256;
    private const int MaxAttempts = 5;

    private readonly Channel<LedgerOp> _queue = Channel.CreateUnbounded<LedgerOp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly StorageBackend _backend;
    private readonly bool _lockRows;
    private readonly bool _leasesElsewhere;
    private long _appliedTicks;
    private readonly TimeProvider _time;
    private readonly ILogger<BudgetLedger> _logger;
    private readonly Task _writer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _flushCounterSql;
    private readonly string _upsertEscrowRowSql;

    // Prepared statements of the writer connection, reused across operations (preparing costs more than running
    // these one-row statements). Touched only by the writer loop.
    private readonly Dictionary<string, DbCommand> _prepared = new(StringComparer.Ordinal);

    public BudgetLedger(StorageBackend backend, TimeProvider time, ILogger<BudgetLedger> logger)
    {
        _backend = backend;
        // Built once: a flush writes one of these per counter (a new session's too, so one per run), and building the
        // text each time allocated several long strings only to find the statement prepared from the same text.
        _flushCounterSql =
            "INSERT INTO budget_counters (\"ScopeKey\", \"PeriodStart\", \"SpentTokens\", \"SpentNanoUsd\", \"ReservedTokens\", \"ReservedNanoUsd\", \"UpdatedAt\") " +
            $"VALUES (@k, @p, @st, @su, {backend.Greatest("@at - @rt", "0")}, {backend.Greatest("@au - @ru", "0")}, @now) " +
            "ON CONFLICT (\"ScopeKey\", \"PeriodStart\") DO UPDATE SET \"SpentTokens\" = budget_counters.\"SpentTokens\" + @st, " +
            "\"SpentNanoUsd\" = budget_counters.\"SpentNanoUsd\" + @su, " +
            $"\"ReservedTokens\" = {backend.Greatest("budget_counters.\"ReservedTokens\" - @rt + @at", "0")}, " +
            $"\"ReservedNanoUsd\" = {backend.Greatest("budget_counters.\"ReservedNanoUsd\" - @ru + @au", "0")}, \"UpdatedAt\" = @now " +
            "RETURNING \"SpentTokens\", \"SpentNanoUsd\"";
        _upsertEscrowRowSql =
            """INSERT INTO budget_reservations ("Id", "Lines", "CreatedAt", "ExpiresAt", "Owner") VALUES (@id, @lines, @now, @exp, @owner) """ +
            $"""ON CONFLICT ("Id") DO UPDATE SET "Lines" = excluded."Lines", "ExpiresAt" = {backend.Greatest("budget_reservations.\"ExpiresAt\"", "excluded.\"ExpiresAt\"")}""";
        _lockRows = backend.Provider != StorageProvider.Sqlite;
        // On SQLite the processes' leases are in the main file, the holds in the ledger's.
        _leasesElsewhere = backend.Provider == StorageProvider.Sqlite;
        _time = time;
        _logger = logger;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>How long the ledger's writer has spent applying batches, commits included: its share of the database's writing.</summary>
    public TimeSpan TotalApplied => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _appliedTicks));

    /// <summary>
    /// Releases holds past their expiry, and holds whose owner's lease is gone (the process stopped), except those of
    /// <paramref name="self"/>. Returns how many.
    /// </summary>
    public Task<int> ExpireAsync(string self, CancellationToken cancellationToken) =>
        Enqueue(tx => (Expire(tx, self), false), cancellationToken, tx => ExpiringKeys(tx, self));

    /// <summary>
    /// Adds to an escrow's holds on every counter, all or nothing. Returns the grants, or the counter that could not
    /// take its wanted amount. The escrow's holds are rows of <c>budget_reservations</c> (one per counter, id
    /// <paramref name="escrowPrefix"/> + counter), so a crashed process's holds expire like any reservation.
    /// </summary>
    public Task<(IReadOnlyList<EscrowGrant>? Grants, (EscrowGrowth Growth, CounterState State)? Refusal)> GrowEscrowAsync(
        string escrowPrefix, string owner, IReadOnlyList<EscrowGrowth> growths, TimeSpan holdFor, CancellationToken cancellationToken) =>
        Enqueue(tx => GrowEscrow(tx, escrowPrefix, owner, growths, holdFor), cancellationToken, _ => growths.Select(g => (g.ScopeKey, g.PeriodStart)));

    /// <summary>Writes an escrow's settled spend and returned holds back to the counters; optionally renews its holds' expiry.</summary>
    public Task<IReadOnlyList<CounterSpend?>> FlushEscrowAsync(
        string escrowPrefix, string owner, IReadOnlyList<EscrowFlush> flushes, TimeSpan holdFor, bool renewAll, CancellationToken cancellationToken) =>
        Enqueue<IReadOnlyList<CounterSpend?>>(tx => (FlushEscrow(tx, escrowPrefix, owner, flushes, holdFor, renewAll), false), cancellationToken,
            _ => flushes.Where(f => !IsSpendOnly(f)).Select(f => (f.ScopeKey, f.PeriodStart)));

    /// <summary>Records alerts; returns those not recorded before (each fires once per period).</summary>
    public Task<IReadOnlyList<AlertKey>> RecordAlertsAsync(IReadOnlyList<AlertKey> alerts, CancellationToken cancellationToken) =>
        Enqueue<IReadOnlyList<AlertKey>>(tx => (RecordAlerts(tx, alerts), false), cancellationToken);

    /// <summary>Sets a counter's spent amounts back to zero (reservations in flight stay held).</summary>
    public Task ResetAsync(string scopeKey, string periodStart, CancellationToken cancellationToken) =>
        Enqueue(tx => (Execute(tx, """UPDATE budget_counters SET "SpentTokens" = 0, "SpentNanoUsd" = 0, "UpdatedAt" = @now WHERE "ScopeKey" = @k AND "PeriodStart" = @p""",
            ("now", Now()), ("k", scopeKey), ("p", periodStart)), false), cancellationToken, _ => [(scopeKey, periodStart)]);

    /// <summary>
    /// Deletes the counters of <paramref name="scopeKey"/> (every period) on which nothing is held: those of a deleted
    /// session, which nothing can spend in again. A counter a run still holds on stays. Returns how many were deleted.
    /// </summary>
    public Task<int> ForgetAsync(string scopeKey, CancellationToken cancellationToken) =>
        Enqueue(tx => (Execute(tx, """DELETE FROM budget_counters WHERE "ScopeKey" = @k AND "ReservedTokens" = 0 AND "ReservedNanoUsd" = 0""", ("k", scopeKey)), false),
            cancellationToken, tx => PeriodsOf(tx, scopeKey));

    private List<(string Key, string Period)> PeriodsOf(DbTransaction tx, string scopeKey)
    {
        var keys = new List<(string, string)>();
        using var reader = Command(tx, """SELECT "PeriodStart" FROM budget_counters WHERE "ScopeKey" = @k""", ("k", scopeKey)).ExecuteReader();
        while (reader.Read())
        {
            keys.Add((scopeKey, reader.GetString(0)));
        }

        return keys;
    }

    /// <summary>Reads counters (missing ones are reported as zero). A session's counter carries only its holds (<see cref="StoredSessionSpend"/>).</summary>
    public async Task<IReadOnlyList<CounterState>> ReadAsync(IReadOnlyCollection<(string ScopeKey, string PeriodStart)> keys, CancellationToken cancellationToken)
    {
        await using var connection = _backend.CreateConnection(StorageFile.Budgets);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<CounterState>(keys.Count);
        foreach (var (key, period) in keys)
        {
            result.Add(ReadCounter(connection, null, key, period));
        }

        return result;
    }

    private async Task<T> Enqueue<T>(
        Func<DbTransaction, (T Result, bool Undo)> apply, CancellationToken cancellationToken, Func<DbTransaction, IEnumerable<(string Key, string Period)>>? keys = null)
    {
        // The operation is not cancellable once queued: a reservation must be applied or refused whole.
        cancellationToken.ThrowIfCancellationRequested();
        var op = new LedgerOp<T>(apply, keys);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(op), this);
        return await op.Completion.Task.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<LedgerOp>(MaxBatch);
        DbConnection? connection = null;
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
                    // This loop is the process's only writer of the ledger's file (on PostgreSQL writers run side by side),
                    // so it takes no turn among the process's other writers; other processes queue on SQLite's own lock.
                    connection ??= _backend.OpenWriter(StorageFile.Budgets);
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    for (var attempt = 1; ; attempt++)
                    {
                        try
                        {
                            ApplyBatch(connection, batch);
                            break;
                        }
                        catch (DbException ex) when (_backend.IsContention(ex) && attempt < MaxAttempts)
                        {
                            // Rolled back whole: nothing of the batch was published, so it is applied again from the start.
                            LogBatchRetried(attempt);
                        }
                    }

                    Interlocked.Add(ref _appliedTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
                }
                catch (Exception ex)
                {
                    // Any failure fails this batch's callers and no more: a loop that died on one it did not expect (a
                    // StorageException from opening a database whose folder was removed) left every later caller waiting for
                    // ever, a run's budget hold or a sweep at start-up among them.
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

    private void DropPrepared()
    {
        foreach (var command in _prepared.Values)
        {
            command.Dispose();
        }

        _prepared.Clear();
    }

    private void ApplyBatch(DbConnection connection, List<LedgerOp> batch)
    {
        using var tx = _backend.BeginWrite(connection);
        if (_lockRows)
        {
            LockCounters(tx, batch);
        }

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
            catch (Exception ex) when (!_backend.IsContention(ex))
            {
                // One bad operation must not undo the others in its batch; a locked or deadlocked database fails the whole batch.
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

    /// <summary>
    /// Creates and locks, in ordinal order, every counter the batch's operations will touch, before any of them reads
    /// one: the read-check-update of a hold is then made on a locked row, and instances lock in the same order.
    /// </summary>
    private void LockCounters(DbTransaction tx, List<LedgerOp> batch)
    {
        var keys = new SortedSet<(string Key, string Period)>(Comparer<(string Key, string Period)>.Create(static (a, b) =>
        {
            var byKey = string.CompareOrdinal(a.Key, b.Key);
            return byKey != 0 ? byKey : string.CompareOrdinal(a.Period, b.Period);
        }));
        foreach (var op in batch)
        {
            keys.UnionWith(op.Keys(tx));
        }

        var now = Now();
        foreach (var (key, period) in keys)
        {
            EnsureCounter(tx, key, period, now);
            Command(tx, """SELECT 1 FROM budget_counters WHERE "ScopeKey" = @k AND "PeriodStart" = @p FOR UPDATE""", ("k", key), ("p", period)).ExecuteScalar();
        }
    }

    /// <summary>The counters the holds a sweep would release are on (read without locking; the sweep itself decides).</summary>
    private List<(string Key, string Period)> ExpiringKeys(DbTransaction tx, string self)
    {
        var keys = new List<(string, string)>();
        using var reader = Command(tx, ExpiredFilter("SELECT \"Lines\" FROM budget_reservations"), ("now", Now()), ("self", self)).ExecuteReader();
        while (reader.Read())
        {
            keys.AddRange((JsonSerializer.Deserialize<HeldLine[]>(reader.GetString(0)) ?? []).Select(l => (l.K, l.P)));
        }

        return keys;
    }

    /// <summary>
    /// <paramref name="statement"/> restricted to holds past their expiry or whose owner has no lease. On SQLite the leases
    /// are another file's, read by <see cref="LiveLeases"/> into <c>@live</c> once this transaction holds the ledger's
    /// write lock: a process takes its lease before its first hold, so any hold this transaction can see has an owner
    /// whose lease, if live, that read sees.
    /// </summary>
    private string ExpiredFilter(string statement) => statement + (_leasesElsewhere
        ? """ WHERE "ExpiresAt" < @now OR ("Owner" <> @self AND "Owner" NOT IN (SELECT value FROM json_each(@live)))"""
        : """ WHERE "ExpiresAt" < @now OR ("Owner" <> @self AND "Owner" NOT IN (SELECT "Id" FROM process_leases))""");

    /// <summary>The ids of the processes' leases in the main file, as a JSON array.</summary>
    private string LiveLeases()
    {
        using var connection = _backend.CreateConnection(StorageFile.Main);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """SELECT "Id" FROM process_leases""";
        var ids = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
        }

        return JsonSerializer.Serialize(ids);
    }

    private ((IReadOnlyList<EscrowGrant>?, (EscrowGrowth, CounterState)?) Result, bool Undo) GrowEscrow(
        DbTransaction tx, string prefix, string owner, IReadOnlyList<EscrowGrowth> growths, TimeSpan holdFor)
    {
        var now = Now();
        var grants = new List<EscrowGrant>(growths.Count);
        foreach (var growth in growths)
        {
            EnsureCounter(tx, growth.ScopeKey, growth.PeriodStart, now);
            if (growth.AddTokens != 0 || growth.AddNanoUsd != 0)
            {
                AddReserved(tx, growth.ScopeKey, growth.PeriodStart, growth.AddTokens, growth.AddNanoUsd, now);
                AdjustEscrowRow(tx, prefix, owner, growth.ScopeKey, growth.PeriodStart, growth.AddTokens, growth.AddNanoUsd, now + holdFor);
            }

            // SQLite's BEGIN IMMEDIATE holds the write lock, PostgreSQL's row lock (LockCounters) the row: the counter cannot
            // move between this read and the update.
            var state = ReadCounterPrepared(tx, growth.ScopeKey, growth.PeriodStart);
            if (BudgetPolicyCatalog.IsSessionKey(growth.ScopeKey))
            {
                var (spentTokens, spentNano) = StoredSessionSpend(growth.ScopeKey, growth.JudgeSpendCounts);
                state = state with { SpentTokens = spentTokens, SpentNanoUsd = spentNano };
            }

            var usedTokens = state.SpentTokens + state.ReservedTokens;
            var usedNano = state.SpentNanoUsd + state.ReservedNanoUsd;
            if (usedTokens + growth.WantTokens > growth.LimitTokens || usedNano + growth.WantNanoUsd > growth.LimitNanoUsd)
            {
                return ((null, (growth, state)), Undo: true);
            }

            // Headroom shrinks as the counter fills, so near the limit holds are exact and no process sits on budget another needs.
            var runs = Math.Min(
                HeadroomRuns(growth.MaxRuns, growth.RunTokens, growth.LimitTokens, usedTokens + growth.WantTokens),
                HeadroomRuns(growth.MaxRuns, growth.RunNanoUsd, growth.LimitNanoUsd, usedNano + growth.WantNanoUsd));
            var tokens = growth.WantTokens + runs * growth.RunTokens;
            var nano = growth.WantNanoUsd + runs * growth.RunNanoUsd;
            AddReserved(tx, growth.ScopeKey, growth.PeriodStart, tokens, nano, now);
            AdjustEscrowRow(tx, prefix, owner, growth.ScopeKey, growth.PeriodStart, tokens, nano, now + holdFor);
            grants.Add(new EscrowGrant(growth.ScopeKey, growth.PeriodStart, tokens, nano, state.SpentTokens, state.SpentNanoUsd));
        }

        return ((grants, null), Undo: false);

        static long HeadroomRuns(int maxRuns, long run, long? limit, long usedAfterWant) =>
            limit is not { } l || run <= 0 ? maxRuns : Math.Clamp((l - usedAfterWant) / 8 / run, 0, maxRuns);
    }

    private CounterSpend?[] FlushEscrow(DbTransaction tx, string prefix, string owner, IReadOnlyList<EscrowFlush> flushes, TimeSpan holdFor, bool renewAll)
    {
        var now = Now();
        var spends = new CounterSpend?[flushes.Count];
        for (var i = 0; i < flushes.Count; i++)
        {
            var flush = flushes[i];
            if (IsSpendOnly(flush))
            {
                continue;
            }

            var session = BudgetPolicyCatalog.IsSessionKey(flush.ScopeKey);
            if (session)
            {
                // Only the holds: a session's spend is read from its stored runs (StoredSessionSpend).
                flush = flush with { SpentTokens = 0, SpentNanoUsd = 0 };
            }

            // One statement per counter: a new session's counter is created with its first write.
            using (var reader = Command(tx, _flushCounterSql,
                       ("st", flush.SpentTokens), ("su", flush.SpentNanoUsd), ("rt", flush.ReturnTokens), ("at", flush.AddTokens),
                       ("ru", flush.ReturnNanoUsd), ("au", flush.AddNanoUsd), ("now", now), ("k", flush.ScopeKey), ("p", flush.PeriodStart)).ExecuteReader())
            {
                reader.Read();
                spends[i] = session ? null : new CounterSpend(flush.ScopeKey, flush.PeriodStart, reader.GetInt64(0), reader.GetInt64(1));
            }

            AdjustEscrowRow(tx, prefix, owner, flush.ScopeKey, flush.PeriodStart, flush.AddTokens - flush.ReturnTokens, flush.AddNanoUsd - flush.ReturnNanoUsd, now + holdFor);
        }

        if (renewAll)
        {
            Execute(tx, """UPDATE budget_reservations SET "ExpiresAt" = @exp WHERE substr("Id", 1, length(@from)) = @from""",
                ("exp", now + holdFor), ("from", prefix));
        }

        return spends;
    }

    /// <summary>
    /// A session's spend as its stored runs have it: their tokens and cost, which the main database adds to the session's
    /// totals with each run's end anyway, and its judges' when they count on its budget. A session's counter in the ledger
    /// carries only the holds of its calls in flight, so a run that settles before its hold is ever written leaves nothing
    /// to write there (each new session added a row to the ledger, for a counter most sessions never read again).
    /// <para>
    /// Never less than what was spent: a run's end is committed in the main database before its call settles, and the hold
    /// is given back only by a later flush, which waits for the counter this transaction holds (SQLite's write lock,
    /// PostgreSQL's row lock). A run whose hold was given back before this read is in the totals read here; one whose hold
    /// is still there is counted by it (and, if its end was already stored, a second time, until its hold goes back: a
    /// little budget held back for a moment, never overspent). A run whose end could not be stored at all is not counted.
    /// </para>
    /// </summary>
    private (long Tokens, long NanoUsd) StoredSessionSpend(string key, bool withJudges)
    {
        using var connection = _backend.CreateConnection(StorageFile.Main);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = StoredSessionSpendSql;
        AddValue(command, "id", _backend.Id(Guid.ParseExact(key.AsSpan(BudgetPolicyCatalog.SessionKeyPrefix.Length), "N")));
        AddValue(command, "judges", withJudges ? 1 : 0);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    // A session's totals are kept by the main file's triggers with each run; its judges' are on its runs' evaluations.
    private const string StoredSessionSpendSql =
        """
        SELECT CAST(COALESCE((SELECT "Tokens" FROM sessions WHERE "Id" = @id), 0) + @judges * COALESCE((SELECT SUM(e."JudgeInputTokens" + e."JudgeOutputTokens")
                   FROM runs r JOIN evaluations e ON e."RunId" = r."Id" WHERE r."SessionId" = @id), 0) AS BIGINT),
               CAST(COALESCE((SELECT "CostNanoUsd" FROM sessions WHERE "Id" = @id), 0) + @judges * COALESCE((SELECT SUM(e."JudgeCostNanoUsd")
                   FROM runs r JOIN evaluations e ON e."RunId" = r."Id" WHERE r."SessionId" = @id), 0) AS BIGINT)
        """;

    /// <summary>
    /// A session counter's flush that only adds spend: the hold it gives back is the local hold it adds (a session this
    /// process created, settled before it was ever written), so its reserved amount and this escrow's hold row stay as they
    /// are, and the spend is its stored runs' (<see cref="StoredSessionSpend"/>): nothing to write, nor to lock.
    /// </summary>
    private static bool IsSpendOnly(EscrowFlush flush) =>
        BudgetPolicyCatalog.IsSessionKey(flush.ScopeKey) && flush.AddTokens == flush.ReturnTokens && flush.AddNanoUsd == flush.ReturnNanoUsd;

    private void AddReserved(DbTransaction tx, string key, string period, long tokens, long nano, DateTime now) =>
        Execute(tx, """UPDATE budget_counters SET "ReservedTokens" = "ReservedTokens" + @t, "ReservedNanoUsd" = "ReservedNanoUsd" + @u, "UpdatedAt" = @now """ +
                    """WHERE "ScopeKey" = @k AND "PeriodStart" = @p""", ("t", tokens), ("u", nano), ("now", now), ("k", key), ("p", period));

    private void EnsureCounter(DbTransaction tx, string key, string period, DateTime now) =>
        Execute(tx, """INSERT INTO budget_counters ("ScopeKey", "PeriodStart", "SpentTokens", "SpentNanoUsd", "ReservedTokens", "ReservedNanoUsd", "UpdatedAt") """ +
                    "VALUES (@k, @p, 0, 0, 0, 0, @now) ON CONFLICT DO NOTHING", ("k", key), ("p", period), ("now", now));

    /// <summary>Moves the escrow's hold on one counter by a delta (deltas, not totals: grows and flushes may be queued together).</summary>
    private void AdjustEscrowRow(DbTransaction tx, string prefix, string owner, string key, string period, long tokens, long nano, DateTime expires)
    {
        if (tokens == 0 && nano == 0)
        {
            return;
        }

        var id = prefix + key + "|" + period;
        var held = Command(tx, """SELECT "Lines" FROM budget_reservations WHERE "Id" = @id""", ("id", id)).ExecuteScalar() is string json
            ? JsonSerializer.Deserialize<HeldLine[]>(json) ?? []
            : [];
        var (t, u) = held.Length > 0 ? (held[0].T + tokens, held[0].U + nano) : (tokens, nano);
        if (t <= 0 && u <= 0)
        {
            Execute(tx, """DELETE FROM budget_reservations WHERE "Id" = @id""", ("id", id));
            return;
        }

        Execute(tx, _upsertEscrowRowSql,
            ("id", id), ("lines", JsonSerializer.Serialize(new[] { new HeldLine(key, period, Math.Max(t, 0), Math.Max(u, 0)) })),
            ("now", Now()), ("exp", expires), ("owner", owner));
    }

    private int Expire(DbTransaction tx, string self)
    {
        var expired = new List<HeldLine[]>();
        var filter = ExpiredFilter("DELETE FROM budget_reservations") + " RETURNING \"Lines\"";
        using (var reader = (_leasesElsewhere
                   ? Command(tx, filter, ("now", Now()), ("self", self), ("live", LiveLeases()))
                   : Command(tx, filter, ("now", Now()), ("self", self))).ExecuteReader())
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

    private List<AlertKey> RecordAlerts(DbTransaction tx, IReadOnlyList<AlertKey> alerts)
    {
        var fresh = new List<AlertKey>();
        foreach (var alert in alerts)
        {
            if (Execute(tx, """INSERT INTO budget_alerts ("PolicyId", "PeriodStart", "Threshold", "FiredAt") VALUES (@id, @p, @th, @now) ON CONFLICT DO NOTHING""",
                    ("id", alert.PolicyId), ("p", alert.PeriodStart), ("th", alert.Threshold), ("now", Now())) > 0)
            {
                fresh.Add(alert);
            }
        }

        return fresh;
    }

    private void Unhold(DbTransaction tx, IEnumerable<HeldLine> lines)
    {
        foreach (var line in lines)
        {
            Execute(tx, $"""UPDATE budget_counters SET "ReservedTokens" = {_backend.Greatest("\"ReservedTokens\" - @t", "0")}, """ +
                        $"""  "ReservedNanoUsd" = {_backend.Greatest("\"ReservedNanoUsd\" - @u", "0")}, "UpdatedAt" = @now """ +
                        """WHERE "ScopeKey" = @k AND "PeriodStart" = @p""", ("t", line.T), ("u", line.U), ("now", Now()), ("k", line.K), ("p", line.P));
        }
    }

    /// <summary>A counter read by the writer loop, with its prepared statement (every escrow growth reads one).</summary>
    private CounterState ReadCounterPrepared(DbTransaction tx, string key, string period)
    {
        using var reader = Command(tx, ReadCounterSql, ("k", key), ("p", period)).ExecuteReader();
        return reader.Read()
            ? new CounterState(key, period, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : new CounterState(key, period, 0, 0, 0, 0);
    }

    private const string ReadCounterSql =
        """SELECT "SpentTokens", "SpentNanoUsd", "ReservedTokens", "ReservedNanoUsd" FROM budget_counters WHERE "ScopeKey" = @k AND "PeriodStart" = @p""";

    private static CounterState ReadCounter(DbConnection connection, DbTransaction? tx, string key, string period)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = ReadCounterSql;
        AddValue(command, "k", key);
        AddValue(command, "p", period);
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new CounterState(key, period, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : new CounterState(key, period, 0, 0, 0, 0);
    }

    private static void AddValue(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private DateTime Now() => _time.GetUtcNow().UtcDateTime;

    private int Execute(DbTransaction tx, string sql, params (string Name, object? Value)[] parameters) =>
        Command(tx, sql, parameters).ExecuteNonQuery();

    /// <summary>The prepared statement for <paramref name="sql"/>, bound to this transaction and these values. Not to be disposed.</summary>
    private DbCommand Command(DbTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        if (!_prepared.TryGetValue(sql, out var command))
        {
            command = tx.Connection!.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, _) in parameters)
            {
                var parameter = command.CreateParameter();
                // As written in the SQL: Microsoft.Data.Sqlite looks an unprefixed name up under every prefix it knows, each a native lookup.
                parameter.ParameterName = "@" + name;
                command.Parameters.Add(parameter);
            }

            _backend.Prepare(command);
            _prepared[sql] = command;
        }

        command.Transaction = tx;
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters[i].Value = parameters[i].Value is DateTime date ? _backend.Date(date) : parameters[i].Value ?? DBNull.Value;
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

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "A budget ledger batch met another instance's transaction (attempt {Attempt}) and is applied again.")]
    private partial void LogBatchRetried(int attempt);

    private sealed record HeldLine(string K, string P, long T, long U);

    private abstract class LedgerOp
    {
        /// <summary>Applies the operation; returns how to publish its result after commit, and whether to undo it.</summary>
        public abstract (Action Publish, bool Undo) Apply(DbTransaction tx);

        /// <summary>The counters the operation will touch, to lock before any operation of the batch runs.</summary>
        public abstract IEnumerable<(string Key, string Period)> Keys(DbTransaction tx);

        public abstract void Fail(Exception exception);
    }

    private sealed class LedgerOp<T>(
        Func<DbTransaction, (T Result, bool Undo)> apply, Func<DbTransaction, IEnumerable<(string Key, string Period)>>? keys) : LedgerOp
    {
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override IEnumerable<(string Key, string Period)> Keys(DbTransaction tx) => keys?.Invoke(tx) ?? [];

        public override (Action Publish, bool Undo) Apply(DbTransaction tx)
        {
            var (result, undo) = apply(tx);
            return (() => Completion.TrySetResult(result), undo);
        }

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }
}
