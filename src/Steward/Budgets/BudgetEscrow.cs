using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Steward.Budgets;

/// <summary>
/// This process's share of each budget counter, so that most reservations are decided in memory.
/// <para>
/// A run's worst case is reserved against a hold the process took on the counter in the database (the escrow). When
/// the hold does not cover it, the escrow grows the hold through the <see cref="BudgetLedger"/> with the same atomic
/// conditional update as before: the wanted amount is checked against the limit, and a little headroom is taken for
/// the runs that follow (at most an eighth of what is still free, so near a limit holds are exact). Every process
/// therefore only spends what the database granted it: budgets stay hard across processes, and within one process a
/// request is refused only when the process's unused hold plus everything still free cannot cover it.
/// </para>
/// <para>
/// Settled spend is written back by a flush loop shortly after (group-committed, one statement per counter), not on
/// the run's path; unused holds go back after <see cref="BudgetOptions.EscrowIdleReturn"/> without runs, and all of
/// them on shutdown. The holds are ordinary reservation rows, renewed while the process lives, so a crashed process's
/// holds expire after <see cref="BudgetOptions.ReservationTimeout"/>; the spend of runs settled in its last flush
/// interval is lost with it.
/// </para>
/// </summary>
internal sealed partial class BudgetEscrow : IAsyncDisposable
{
    // Headroom taken per growth, in multiples of the request that needed it: at least this many, and for a counter in
    // steady use, what it used in HeadroomSpan at its recent rate, up to the most a crashed process may strand.
    private const int HeadroomRuns = 32;
    private const int MaxHeadroomRuns = 256;
    private static readonly TimeSpan HeadroomSpan = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Key, string Period), Counter> _counters = [];
    private readonly BudgetLedger _ledger;
    private readonly BudgetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<BudgetEscrow> _logger;
    private readonly string _prefix = "escrow:" + Guid.NewGuid().ToString("N") + ":";
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly Task _loop;
    private DateTimeOffset _renewedAt;
    private int _disposed;

    private readonly SemaphoreSlim _growLock = new(1, 1);
    private int _growWaiters;
    private long _growthsWaitedFor;
    private long _growths;

    private readonly string _owner;

    // Deleted sessions whose counter a run of this process still held when they were deleted: forgotten by the flush that
    // writes that run's spend. Guarded by _lock.
    private readonly HashSet<string> _forgetOnceDone = [];

    public BudgetEscrow(BudgetLedger ledger, Storage.ProcessLease lease, IOptions<BudgetOptions> options, TimeProvider time, ILogger<BudgetEscrow> logger)
    {
        _ledger = ledger;
        _owner = lease.Id;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _renewedAt = time.GetUtcNow();
        _loop = Task.Run(FlushLoopAsync);
    }

    /// <summary>How many growths runs have waited for (refills taken ahead of need are not counted).</summary>
    public long GrowthsWaitedFor => Interlocked.Read(ref _growthsWaitedFor);

    /// <summary>How many growths the escrow has asked the ledger for, refills ahead of need included: one ledger transaction each.</summary>
    public long Growths => Interlocked.Read(ref _growths);

    /// <summary>How many reservations are waiting for a growth (the one running included).</summary>
    internal int GrowthWaiters => Volatile.Read(ref _growWaiters);

    /// <summary>Called with (counter, spend before, spend after) when a flush shows other processes moved a counter's spend.</summary>
    public Action<(string Key, string Period), (long Tokens, long NanoUsd), (long Tokens, long NanoUsd)>? SpendMovedElsewhere { get; set; }

    /// <summary>
    /// Holds <paramref name="amount"/> (a call's worst case) on every counter of <paramref name="lines"/> (all or none).
    /// With <paramref name="newSession"/>, the session's counter is one nobody can have used yet (the run created the
    /// session): its hold is taken locally and written with the next flush.
    /// </summary>
    /// <returns><see langword="null"/> when held; else the counter that did not fit, with its state as this process sees it.</returns>
    public async ValueTask<(LedgerLine Line, CounterState State)?> ReserveAsync(
        IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) amount, bool newSession, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (TryHold(lines, amount, newSession))
            {
                return null;
            }
        }

        // One growth at a time: a run that waited may find the headroom the previous growth took covers it, and a
        // refusal is only given when no other growth could still bring headroom.
        Interlocked.Increment(ref _growWaiters);
        try
        {
            await _growLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _growWaiters);
        }

        try
        {
            if (HasUnwrittenSessionCounter(lines))
            {
                // Written before the growth: a session's spend may be read from its stored runs (BudgetLedger.StoredSessionSpend),
                // which has this process's settled runs already, while their holds, not yet given back, would count them again.
                await FlushOnceAsync(returnUnused: false, cancellationToken).ConfigureAwait(false);
            }

            EscrowGrowth[] growths;
            lock (_lock)
            {
                if (TryHold(lines, amount, newSession))
                {
                    return null;
                }

                // Claimed now, so runs deciding meanwhile see it taken; given back below if the growth is refused.
                var wanted = new List<EscrowGrowth>();
                foreach (var line in lines)
                {
                    var counter = GetCounter(line);
                    var (tokens, nano) = counter.Available;
                    counter.HoldCall(amount.Tokens, amount.NanoUsd);
                    if (tokens < amount.Tokens || nano < amount.NanoUsd)
                    {
                        // A local hold not written yet must reach the database before the limit is checked there.
                        var (addTokens, addNano) = counter.TakeDeferred();
                        wanted.Add(new EscrowGrowth(line.ScopeKey, line.PeriodStart, amount.Tokens - Math.Max(tokens, 0), amount.NanoUsd - Math.Max(nano, 0),
                            amount.Tokens, amount.NanoUsd, HeadroomFor(counter, amount), line.LimitTokens, line.LimitNanoUsd, addTokens, addNano, line.JudgeSpendCounts));
                    }
                }

                growths = [.. wanted];
            }

            (IReadOnlyList<EscrowGrowth>? _, (EscrowGrowth Growth, CounterState State)? Refusal) result;
            IReadOnlyList<EscrowGrant>? grants;
            try
            {
                Interlocked.Increment(ref _growthsWaitedFor);
                Interlocked.Increment(ref _growths);
                var grown = await _ledger.GrowEscrowAsync(_prefix, _owner, growths, _options.ReservationTimeout, CancellationToken.None).ConfigureAwait(false);
                (grants, result) = (grown.Grants, (null, grown.Refusal));
            }
            catch
            {
                lock (_lock)
                {
                    Unclaim(lines, amount, growths);
                }

                throw;
            }

            lock (_lock)
            {
                if (grants is not null)
                {
                    foreach (var grant in grants)
                    {
                        var counter = _counters[(grant.ScopeKey, grant.PeriodStart)];
                        counter.Grant(grant.Tokens, grant.NanoUsd, deferred: false);
                        counter.Known = (grant.SpentTokens, grant.SpentNanoUsd);
                    }

                    return null;
                }

                Unclaim(lines, amount, growths);
                // As this process sees it: spend includes what it settled but has not written yet, and its unused hold
                // counts as free, so "spent + reserved + needed > limit" holds exactly when the request cannot fit.
                var (growth, state) = result.Refusal!.Value;
                var line = lines.First(l => l.ScopeKey == growth.ScopeKey && l.PeriodStart == growth.PeriodStart);
                var refused = _counters[(line.ScopeKey, line.PeriodStart)];
                var unwritten = refused.Unwritten;
                var (availableTokens, availableNano) = refused.Available;
                return (line, state with
                {
                    SpentTokens = state.SpentTokens + unwritten.Tokens,
                    SpentNanoUsd = state.SpentNanoUsd + unwritten.NanoUsd,
                    ReservedTokens = Math.Max(state.ReservedTokens - unwritten.Tokens - Math.Max(availableTokens, 0), 0),
                    ReservedNanoUsd = Math.Max(state.ReservedNanoUsd - unwritten.NanoUsd - Math.Max(availableNano, 0), 0),
                });
            }
        }
        finally
        {
            _growLock.Release();
        }
    }

    /// <summary>Whether a session's counter among <paramref name="lines"/> has spend or a local hold this process has not written.</summary>
    private bool HasUnwrittenSessionCounter(IReadOnlyList<LedgerLine> lines)
    {
        lock (_lock)
        {
            for (var i = 0; i < lines.Count; i++)
            {
                if (_counters.TryGetValue((lines[i].ScopeKey, lines[i].PeriodStart), out var counter) && counter.IsSession &&
                    (counter.Unwritten != (0, 0) || counter.DeferredTokens != 0 || counter.DeferredNano != 0))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// How many runs' worth of headroom a growth takes: enough for the runs queued behind it too, so a burst after an
    /// idle spell waits for one growth, not one per 32 runs; and for a counter in steady use, what it held in
    /// <see cref="HeadroomSpan"/> at the rate it held since its last growth, so that under load it grows a few times a
    /// second rather than every 32 runs (runs one after another at a thousand a second took 63 growths for 2,000 runs,
    /// each a write turn on the ledger's file, or a locked row on PostgreSQL that every instance shares). The rate never
    /// takes the hold past <see cref="MaxHeadroomRuns"/> runs of <paramref name="amount"/> (what a crashed process may
    /// strand until its holds expire), and the ledger takes at most an eighth of what is still free. A session has none:
    /// it runs one turn at a time, and headroom there would only strand budget that its next turn may run from another
    /// process. Called under the lock; starts the counter's next rate sample.
    /// </summary>
    private int HeadroomFor(Counter counter, (long Tokens, long NanoUsd) amount)
    {
        if (counter.IsSession)
        {
            return 0;
        }

        var now = _time.GetTimestamp();
        var byRate = 0;
        if (counter.GrownAt != 0 && _time.GetElapsedTime(counter.GrownAt, now) is { Ticks: > 0 } since)
        {
            // Runs the hold still covers (a refill comes before it runs out) count towards the most it may hold.
            var (tokens, nano) = counter.Available;
            var left = Math.Max(amount.Tokens > 0 ? tokens / amount.Tokens : 0, amount.NanoUsd > 0 ? nano / amount.NanoUsd : 0);
            byRate = (int)Math.Min((counter.Holds - counter.HoldsAtGrowth) * (HeadroomSpan / since), MaxHeadroomRuns - Math.Clamp(left, 0, MaxHeadroomRuns));
        }

        (counter.GrownAt, counter.HoldsAtGrowth) = (now, counter.Holds);
        counter.Headroom = Math.Clamp(Math.Max(Volatile.Read(ref _growWaiters), byRate), HeadroomRuns, MaxHeadroomRuns);
        return counter.Headroom;
    }

    /// <summary>
    /// Holds every line from what this process holds already, or none. A new session's counter (no one can have
    /// used it) gets its hold locally, checked against its limit and written with the next flush. Called under the lock.
    /// </summary>
    private bool TryHold(IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) amount, bool newSession)
    {
        // Each line's counter looked up once (hashing its two strings is most of a lookup), on the stack for the usual few.
        var buffer = default(FewOnStack<Counter>);
        var found = lines.Count <= FewOnStack<Counter>.Length ? ((Span<Counter>)buffer)[..lines.Count] : new Counter[lines.Count];
        var now = _time.GetTimestamp();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            var counter = found[i] = GetCounter(line);
            counter.LastUsed = now;
            var (tokens, nano) = counter.Available;
            if (tokens >= amount.Tokens && nano >= amount.NanoUsd)
            {
                continue;
            }

            if (counter.Persisted || !(newSession && counter.IsSession) || amount.Tokens > line.LimitTokens.GetValueOrDefault(long.MaxValue) ||
                amount.NanoUsd > line.LimitNanoUsd.GetValueOrDefault(long.MaxValue) ||
                counter.GrantTokens + amount.Tokens - Math.Max(tokens, 0) > line.LimitTokens.GetValueOrDefault(long.MaxValue) ||
                counter.GrantNano + amount.NanoUsd - Math.Max(nano, 0) > line.LimitNanoUsd.GetValueOrDefault(long.MaxValue))
            {
                return false;
            }
        }

        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            var counter = found[i];
            var (tokens, nano) = counter.Available;
            if (tokens < amount.Tokens || nano < amount.NanoUsd)
            {
                counter.Grant(Math.Max(amount.Tokens - Math.Max(tokens, 0), 0), Math.Max(amount.NanoUsd - Math.Max(nano, 0), 0), deferred: true);
                _wake.Writer.TryWrite(true);
            }

            counter.HoldCall(amount.Tokens, amount.NanoUsd);
            // Refill before the hold runs out (half the last growth's headroom left), so that runs rarely wait for a growth on the database.
            var (leftTokens, leftNano) = counter.Available;
            if (counter.Persisted && !counter.Refilling && !counter.IsSession &&
                (leftTokens < amount.Tokens * counter.Headroom / 2 || leftNano < amount.NanoUsd * counter.Headroom / 2))
            {
                counter.Refilling = true;
                _ = RefillAsync(line, amount);
            }
        }

        return true;
    }

    /// <summary>Takes headroom on a counter ahead of need; never refuses anything (it wants nothing, only headroom).</summary>
    private async Task RefillAsync(LedgerLine line, (long Tokens, long NanoUsd) amount)
    {
        try
        {
            await _growLock.WaitAsync(_stopping.Token).ConfigureAwait(false);
            try
            {
                EscrowGrowth growth;
                lock (_lock)
                {
                    growth = new EscrowGrowth(line.ScopeKey, line.PeriodStart, 0, 0, amount.Tokens, amount.NanoUsd, HeadroomFor(GetCounter(line), amount), line.LimitTokens, line.LimitNanoUsd);
                }

                Interlocked.Increment(ref _growths);
                var grown = await _ledger.GrowEscrowAsync(_prefix, _owner, [growth], _options.ReservationTimeout, CancellationToken.None).ConfigureAwait(false);
                lock (_lock)
                {
                    // The counter may have emptied and gone meanwhile; the grant is in the database either way, so it must be held here.
                    if (grown.Grants is [var grant])
                    {
                        var counter = GetCounter(line);
                        counter.Grant(grant.Tokens, grant.NanoUsd, deferred: false);
                        counter.Known = (grant.SpentTokens, grant.SpentNanoUsd);
                    }
                }
            }
            finally
            {
                _growLock.Release();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (IsLedgerFailure(ex))
        {
            LogFlushFailed(ex);
        }
        finally
        {
            lock (_lock)
            {
                if (_counters.TryGetValue((line.ScopeKey, line.PeriodStart), out var counter))
                {
                    counter.Refilling = false;
                }
            }
        }
    }

    /// <summary>
    /// Replaces a call's held worst case with what it used (at most the worst case: the rest, if it used more, is spend
    /// the hold never covered), still held until <see cref="Settle"/>. Returns how each counter's spend will move, as
    /// this process sees it (into <paramref name="changes"/>, in the lines' order), for alert thresholds: from the spend that includes every call shrunk before this one, stored
    /// or not, so that calls answered together each report their own stretch and a threshold between them is crossed by one.
    /// </summary>
    public void Shrink(IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) held, long tokens, long nanoUsd, Span<CounterChange> changes)
    {
        lock (_lock)
        {
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                var counter = _counters[(line.ScopeKey, line.PeriodStart)];
                counter.Hold(Math.Min(tokens, held.Tokens) - held.Tokens, Math.Min(nanoUsd, held.NanoUsd) - held.NanoUsd);
                var before = counter.Spent;
                before = (before.Tokens + counter.SettlingTokens, before.NanoUsd + counter.SettlingNano);
                counter.SettlingTokens += tokens;
                counter.SettlingNano += nanoUsd;
                changes[i] = new CounterChange(line.ScopeKey, line.PeriodStart, before.Tokens, before.NanoUsd, before.Tokens + tokens, before.NanoUsd + nanoUsd);
            }
        }
    }

    /// <summary>Replaces a call's hold with actual spend, to be written back with the next flush.</summary>
    public void Settle(IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) held, long tokens, long nanoUsd)
    {
        lock (_lock)
        {
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                var counter = _counters[(line.ScopeKey, line.PeriodStart)];
                counter.Hold(-held.Tokens, -held.NanoUsd);
                counter.SettlingTokens -= tokens;
                counter.SettlingNano -= nanoUsd;
                // The part within the call's hold was covered by the grant; anything beyond (a call that used more than
                // its worst case) is spend the grant never covered.
                counter.PendingTokens += Math.Min(tokens, held.Tokens);
                counter.PendingNano += Math.Min(nanoUsd, held.NanoUsd);
                counter.ExcessTokens += Math.Max(tokens - held.Tokens, 0);
                counter.ExcessNano += Math.Max(nanoUsd - held.NanoUsd, 0);
                ForgetIfLocal(counter, line);
            }
        }

        _wake.Writer.TryWrite(true);
    }

    /// <summary>Gives a call's hold back (it used nothing).</summary>
    public void Release(IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) held)
    {
        lock (_lock)
        {
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                if (_counters.TryGetValue((line.ScopeKey, line.PeriodStart), out var counter))
                {
                    counter.Hold(-held.Tokens, -held.NanoUsd);
                    ForgetIfLocal(counter, line);
                }
            }
        }
    }

    /// <summary>
    /// Drops a new session's counter once no run holds on it, if nothing of it ever reached the ledger: its hold was
    /// local, and its spend is the session's stored runs' (<see cref="BudgetLedger"/> reads it from there), so the flush
    /// would write nothing for it and only then drop it. Dropped at once, the counters stay the few shared ones instead
    /// of one per run of the last flush interval (every run of the chat, the gateway and the benchmark makes a session),
    /// which every reservation, settlement and flush looked up among, under this lock. A later turn of the session
    /// reads the session's spend from its stored runs through the ledger, as after a flush. A session being forgotten
    /// (deleted while a run held it) is left to the flush, which deletes its counter from the ledger. Called under the lock.
    /// </summary>
    private void ForgetIfLocal(Counter counter, LedgerLine line)
    {
        if (counter is { IsSession: true, Persisted: false, HeldTokens: 0, HeldNano: 0, SettlingTokens: 0, SettlingNano: 0 } && !_forgetOnceDone.Contains(line.ScopeKey))
        {
            _counters.Remove((line.ScopeKey, line.PeriodStart));
        }
    }

    /// <summary>
    /// This process's view of one counter, if it has used it: spent (as last read from the ledger plus what it has not
    /// written back yet) and what its runs in flight hold.
    /// </summary>
    public ((long Tokens, long NanoUsd) Spent, (long Tokens, long NanoUsd) Held)? View(string key, string period)
    {
        lock (_lock)
        {
            return _counters.TryGetValue((key, period), out var c) ? (c.Spent, (c.HeldTokens, c.HeldNano)) : null;
        }
    }

    /// <summary>What runs in flight hold, in total over every counter (0 when nothing leaked).</summary>
    public (long Tokens, long NanoUsd) HeldByRuns
    {
        get
        {
            lock (_lock)
            {
                return (_counters.Values.Sum(c => c.HeldTokens), _counters.Values.Sum(c => c.HeldNano));
            }
        }
    }

    /// <summary>
    /// Writes settled spend now; with <paramref name="returnUnused"/> also gives back every hold runs are not using,
    /// so the database shows exactly what is spent and held by runs in flight.
    /// </summary>
    public Task FlushAsync(bool returnUnused, CancellationToken cancellationToken) => FlushOnceAsync(returnUnused, cancellationToken);

    /// <summary>
    /// Forgets a deleted session's counter: writes back what this process has still to write on it, then deletes it from
    /// the ledger, unless a run (of this process or another) still holds on it. Without this, every session ever made
    /// left its counter in the ledger for good. A counter a run of this process still holds goes once that run is done:
    /// the flush that writes its spend deletes it, so deleting a session while its answer streams leaves nothing behind
    /// either. Returns whether a counter was deleted now.
    /// </summary>
    public async Task<bool> ForgetSessionAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        // A finished run's spend and its hold on the counter may not be written yet: the flush writes both and drops the
        // counter here, unless a run still holds on it.
        await FlushOnceAsync(returnUnused: false, cancellationToken).ConfigureAwait(false);
        var key = BudgetPolicyCatalog.SessionScopeKey(sessionId);
        lock (_lock)
        {
            if (HoldsCounterOf(key))
            {
                _forgetOnceDone.Add(key);
                return false;
            }
        }

        return await _ledger.ForgetAsync(key, cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>
    /// <see cref="ForgetSessionAsync"/> for a session that is already deleted, whoever deleted it: a ledger that cannot be
    /// written now (or is stopping) is logged, not thrown, since the session is gone whatever happens here and a counter
    /// left behind only takes room in the ledger.
    /// </summary>
    public async Task ForgetDeletedSessionAsync(Guid sessionId)
    {
        try
        {
            await ForgetSessionAsync(sessionId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsLedgerFailure(ex))
        {
            LogDeletedSessionKept(ex);
        }
    }

    /// <summary>Undoes a refused or failed growth: the claimed holds, and local holds that were to be written with it.</summary>
    private void Unclaim(IReadOnlyList<LedgerLine> lines, (long Tokens, long NanoUsd) amount, EscrowGrowth[] growths)
    {
        foreach (var line in lines)
        {
            _counters[(line.ScopeKey, line.PeriodStart)].Hold(-amount.Tokens, -amount.NanoUsd);
        }

        foreach (var growth in growths)
        {
            var counter = _counters[(growth.ScopeKey, growth.PeriodStart)];
            counter.DeferredTokens += growth.AddTokens;
            counter.DeferredNano += growth.AddNanoUsd;
        }
    }

    /// <summary>Whether this process has a counter of <paramref name="scopeKey"/> in any period. Called under the lock.</summary>
    private bool HoldsCounterOf(string scopeKey) => _counters.Keys.Any(k => k.Key == scopeKey);

    /// <summary>What a ledger write can fail with while the process lives or stops: logged, never thrown at a run.</summary>
    private static bool IsLedgerFailure(Exception ex) =>
        ex is System.Data.Common.DbException or InvalidOperationException or IOException or ObjectDisposedException or Storage.StorageException;

    private Counter GetCounter(LedgerLine line)
    {
        if (!_counters.TryGetValue((line.ScopeKey, line.PeriodStart), out var counter))
        {
            _counters[(line.ScopeKey, line.PeriodStart)] = counter = new Counter { IsSession = BudgetPolicyCatalog.IsSessionKey(line.ScopeKey) };
        }

        return counter;
    }

    private async Task FlushLoopAsync()
    {
        var renewEvery = _options.ReservationTimeout / 3;
        var interval = _options.EscrowFlushInterval;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                using var tick = new CancellationTokenSource(Min(renewEvery, _options.EscrowIdleReturn), _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(tick.Token, _stopping.Token);
                try
                {
                    await _wake.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
                    // Let settles that arrive together share one write.
                    if (interval > TimeSpan.Zero)
                    {
                        await Task.Delay(interval, _time, _stopping.Token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
                {
                    // The tick: renew holds and return idle ones.
                }

                await FlushOnceAsync(returnUnused: false, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or IOException or Storage.StorageException)
            {
                LogFlushFailed(ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _time, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    }

    private async Task FlushOnceAsync(bool returnUnused, CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var renew = now - _renewedAt >= _options.ReservationTimeout / 3;
            var flushes = new List<(EscrowFlush Write, Flush Flush, Counter Counter)>();
            lock (_lock)
            {
                var timestamp = _time.GetTimestamp();
                foreach (var ((key, period), counter) in _counters)
                {
                    // A session's counter goes back as soon as no run holds it: its next turn is likely seconds away.
                    var idle = counter.HeldTokens == 0 && counter.HeldNano == 0 &&
                               (counter.IsSession || (counter.Unwritten == (0, 0) && _time.GetElapsedTime(counter.LastUsed, timestamp) >= _options.EscrowIdleReturn));
                    if (counter.TakeFlush(returnUnused || idle) is { } flush)
                    {
                        flushes.Add((flush.ToLedger(key, period), flush, counter));
                    }
                }
            }

            if (flushes.Count == 0 && !renew)
            {
                return;
            }

            IReadOnlyList<CounterSpend?> spends;
            try
            {
                spends = await _ledger.FlushEscrowAsync(_prefix, _owner, flushes.Select(f => f.Write).ToArray(), _options.ReservationTimeout, renew, CancellationToken.None)
                    .ConfigureAwait(false);
            }
            catch
            {
                lock (_lock)
                {
                    foreach (var (_, flush, counter) in flushes)
                    {
                        counter.Restore(flush);
                    }
                }

                throw;
            }

            if (renew)
            {
                _renewedAt = now;
            }

            var moved = new List<((string, string) Key, (long, long) Before, (long, long) After)>();
            List<string>? forget = null;
            lock (_lock)
            {
                for (var i = 0; i < flushes.Count; i++)
                {
                    var (write, flush, counter) = flushes[i];
                    var expected = (counter.Known.Tokens + write.SpentTokens, counter.Known.NanoUsd + write.SpentNanoUsd);
                    var spent = spends[i] is { } s ? (s.SpentTokens, s.SpentNanoUsd) : expected;
                    counter.Written(flush, spent);
                    if (spent.Item1 > expected.Item1 || spent.Item2 > expected.Item2)
                    {
                        moved.Add(((write.ScopeKey, write.PeriodStart), expected, spent));
                    }

                    if (counter.IsEmpty)
                    {
                        _counters.Remove((write.ScopeKey, write.PeriodStart));
                        if (_forgetOnceDone.Count > 0 && !HoldsCounterOf(write.ScopeKey) && _forgetOnceDone.Remove(write.ScopeKey))
                        {
                            (forget ??= []).Add(write.ScopeKey);
                        }
                    }
                }
            }

            // A deleted session's last run is written: its counter goes now, unless a run of another process still holds on it
            // (the ledger deletes only a counter nothing is reserved on).
            foreach (var key in forget ?? [])
            {
                try
                {
                    await _ledger.ForgetAsync(key, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsLedgerFailure(ex))
                {
                    // The spend is written; a counter left behind only takes room in the ledger.
                    LogDeletedSessionKept(ex);
                }
            }

            foreach (var (key, before, after) in moved)
            {
                SpendMovedElsewhere?.Invoke(key, before, after);
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Once: the container disposes it at shutdown, whoever else stopped it first.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            // Hand every unused hold back so other processes need not wait for it to expire.
            await FlushOnceAsync(returnUnused: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsLedgerFailure(ex))
        {
            LogFlushFailed(ex);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
        _flushing.Dispose();
        _growLock.Dispose();
    }

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Writing budget spend back to the database failed; it is kept and retried.")]
    private partial void LogFlushFailed(Exception exception);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Warning, Message = "A deleted session's budget counter could not be removed from the ledger; it is kept, unused.")]
    private partial void LogDeletedSessionKept(Exception exception);

    /// <summary>One counter as this process holds it. Guarded by the escrow's lock.</summary>
    private sealed class Counter
    {
        /// <summary>What the database holds for this process (plus <see cref="DeferredTokens"/>, held locally, not yet written).</summary>
        public long GrantTokens, GrantNano;
        public long DeferredTokens, DeferredNano;
        /// <summary>Worst cases of runs in flight.</summary>
        public long HeldTokens, HeldNano;
        /// <summary>What calls shrunk to and have not settled yet (their runs are being stored): spend to come, for alert thresholds.</summary>
        public long SettlingTokens, SettlingNano;
        /// <summary>Settled spend not yet written (still inside the grant in the database).</summary>
        public long PendingTokens, PendingNano;
        /// <summary>Settled spend beyond the runs' holds, not yet written.</summary>
        public long ExcessTokens, ExcessNano;
        /// <summary>Spend being written by a flush in progress.</summary>
        public long WritingTokens, WritingNano;
        public long LastUsed;
        /// <summary>Holds taken on the counter; how many there were, and when, at its last growth: its rate of use.</summary>
        public long Holds, HoldsAtGrowth, GrownAt;
        /// <summary>Runs of headroom the last growth asked for.</summary>
        public int Headroom = HeadroomRuns;
        public bool Persisted;
        public bool Refilling;
        public bool IsSession { get; init; }

        /// <summary>The counter's spend in the database when last read.</summary>
        public (long Tokens, long NanoUsd) Known;

        public (long Tokens, long NanoUsd) Available => (GrantTokens - HeldTokens - PendingTokens, GrantNano - HeldNano - PendingNano);

        public (long Tokens, long NanoUsd) Unwritten => (PendingTokens + ExcessTokens + WritingTokens, PendingNano + ExcessNano + WritingNano);

        public (long Tokens, long NanoUsd) Spent => (Known.Tokens + Unwritten.Tokens, Known.NanoUsd + Unwritten.NanoUsd);

        public bool IsEmpty => GrantTokens == 0 && GrantNano == 0 && HeldTokens == 0 && HeldNano == 0 && SettlingTokens == 0 && SettlingNano == 0 && Unwritten == (0, 0) && DeferredTokens == 0 && DeferredNano == 0;

        /// <summary>Takes the local holds not yet written, to write them with a growth (they stay in the grant).</summary>
        public (long Tokens, long NanoUsd) TakeDeferred()
        {
            var taken = (DeferredTokens, DeferredNano);
            DeferredTokens = DeferredNano = 0;
            return taken;
        }

        public void Hold(long tokens, long nano)
        {
            HeldTokens += tokens;
            HeldNano += nano;
        }

        /// <summary>Holds a call's worst case, counted for the counter's rate of use.</summary>
        public void HoldCall(long tokens, long nano)
        {
            Hold(tokens, nano);
            Holds++;
        }

        public void Grant(long tokens, long nano, bool deferred)
        {
            GrantTokens += tokens;
            GrantNano += nano;
            if (deferred)
            {
                DeferredTokens += tokens;
                DeferredNano += nano;
            }
            else
            {
                Persisted = true;
            }
        }

        /// <summary>
        /// Takes what to write: settled spend (the covered part leaves the grant), local holds not written yet, and with
        /// <paramref name="returnUnused"/> the part of the grant no run holds.
        /// </summary>
        public Flush? TakeFlush(bool returnUnused)
        {
            var (availableTokens, availableNano) = Available;
            var returnTokens = returnUnused ? Math.Max(availableTokens, 0) : 0;
            var returnNano = returnUnused ? Math.Max(availableNano, 0) : 0;
            if (Unwritten == (WritingTokens, WritingNano) && DeferredTokens == 0 && DeferredNano == 0 && returnTokens == 0 && returnNano == 0)
            {
                return null;
            }

            var flush = new Flush(PendingTokens, PendingNano, ExcessTokens, ExcessNano, returnTokens, returnNano, DeferredTokens, DeferredNano);
            WritingTokens += PendingTokens + ExcessTokens;
            WritingNano += PendingNano + ExcessNano;
            GrantTokens -= PendingTokens + returnTokens;
            GrantNano -= PendingNano + returnNano;
            PendingTokens = PendingNano = ExcessTokens = ExcessNano = DeferredTokens = DeferredNano = 0;
            Persisted = true;
            return flush;
        }

        public void Restore(Flush flush)
        {
            WritingTokens -= flush.CoveredTokens + flush.ExcessTokens;
            WritingNano -= flush.CoveredNano + flush.ExcessNano;
            PendingTokens += flush.CoveredTokens;
            PendingNano += flush.CoveredNano;
            ExcessTokens += flush.ExcessTokens;
            ExcessNano += flush.ExcessNano;
            GrantTokens += flush.CoveredTokens + flush.ReturnTokens;
            GrantNano += flush.CoveredNano + flush.ReturnNano;
            DeferredTokens += flush.AddTokens;
            DeferredNano += flush.AddNano;
        }

        public void Written(Flush flush, (long Tokens, long NanoUsd) spent)
        {
            WritingTokens -= flush.CoveredTokens + flush.ExcessTokens;
            WritingNano -= flush.CoveredNano + flush.ExcessNano;
            Known = spent;
        }
    }

    /// <summary>One counter's write: spend within holds (leaves the grant) and beyond, unused grant given back, local holds added.</summary>
    private sealed record Flush(
        long CoveredTokens, long CoveredNano, long ExcessTokens, long ExcessNano, long ReturnTokens, long ReturnNano, long AddTokens, long AddNano)
    {
        public EscrowFlush ToLedger(string key, string period) => new(key, period, CoveredTokens + ExcessTokens, CoveredNano + ExcessNano,
            CoveredTokens + ReturnTokens, CoveredNano + ReturnNano, AddTokens, AddNano);
    }
}
