using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>
/// The budget step of every model call: counts the call's worst case (real tokenizer + the output cap it is sent with,
/// priced at full rates) when any budget applies, holds it on the request's own counter for per-request budgets and on
/// every session, agent, judge and global counter that applies, all or nothing. After the call it holds what the call
/// used instead, raising the alert thresholds that this crosses, and moves it into spend once the call is recorded.
/// </summary>
internal sealed partial class LedgerBudgetGate : IBudgetGate
{
    private readonly BudgetLedger _ledger;
    private readonly BudgetEscrow _escrow;
    private readonly BudgetPolicyCatalog _policies;
    private readonly BudgetAlertNotifier _notifier;
    private readonly IOptions<BudgetOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LedgerBudgetGate> _logger;
    private readonly TimeZoneInfo _zone;
    private readonly ConcurrentDictionary<(IReadOnlyList<BudgetPolicy> ForCall, IReadOnlyList<BudgetPolicy> KeyBudgets, string Preset, bool InSession), CounterPlan> _plans = new();

    // The policies behind each counter this process reserved on, to check alert thresholds when a flush shows that
    // other processes moved the counter's spend.
    private readonly ConcurrentDictionary<(string Key, string Period), (List<BudgetPolicy> Policies, string Preset)> _counterPolicies = new();

    public LedgerBudgetGate(
        BudgetLedger ledger, BudgetEscrow escrow, BudgetPolicyCatalog policies, BudgetAlertNotifier notifier, IOptions<BudgetOptions> options,
        TimeProvider time, ILogger<LedgerBudgetGate> logger)
    {
        _ledger = ledger;
        _escrow = escrow;
        _policies = policies;
        _notifier = notifier;
        _options = options;
        _time = time;
        _logger = logger;
        _zone = BudgetPeriods.FindZone(options.Value.TimeZone);
        _escrow.SpendMovedElsewhere = OnSpendMovedElsewhere;
    }

    public async ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var applicable = await _policies.ForCallAsync(request.Preset, request.Judge, cancellationToken).ConfigureAwait(false);
        var maxOutput = request.MaxOutputTokens;
        if (applicable.Count == 0 && request.ApiKeyBudgets.Count == 0)
        {
            // Nothing to check, so the prompt is not counted: counting is the expensive part of a budget check.
            return new NoBudgetReservation(FormattableString.Invariant($"No budget applies (output cap {maxOutput:N0})."));
        }

        var presetName = request.Preset?.Name ?? "";
        var inputTokens = request.CountPrompt();
        var neededTokens = inputTokens + maxOutput;
        var worst = request.PriceWorstCase?.Invoke(inputTokens, maxOutput) ?? RunCost.Unpriced;
        var neededNano = NanoUsd.FromUsd(worst.Usd) ?? 0;
        var plan = PlanFor(applicable, request.ApiKeyBudgets, presetName, request.SessionId is not null, _time.GetUtcNow());
        if (plan.UnpricedRefusal is { } usdPolicy && !worst.IsPriced)
        {
            throw new BudgetExceededException(
                $"{BudgetPolicyCatalog.DescribeScope(usdPolicy, presetName)}: model '{request.Provider.Model}' has no price, so a USD limit cannot be checked. " +
                $"Add its price under Steward:Pricing:Models, or remove the USD limit.");
        }

        var held = (Tokens: neededTokens, Usd: worst.Usd ?? 0m);
        var requestHeld = HoldRequest(plan.RequestPolicies, request.Request, presetName, held);
        var counters = plan.Counters;
        // The plan's own lines, unless the call holds on its session's counter: that one is the call's.
        var lines = plan.Lines;
        for (var i = 0; i < counters.Length; i++)
        {
            var counter = counters[i];
            if (!counter.IsSession)
            {
                continue;
            }

            // A session's spend may be read from its stored runs (BudgetLedger.StoredSessionSpend), its judges' included when
            // their calls count on it. Not for a new session: nothing is stored with it yet.
            var judgeSpendCounts = !request.NewSession && (request.Judge || await JudgeSpendCountsOnSessionAsync(request.Preset, cancellationToken).ConfigureAwait(false));
            if (ReferenceEquals(lines, plan.Lines))
            {
                lines = [.. plan.Lines];
            }

            lines[i] = counter.Line with { ScopeKey = BudgetPolicyCatalog.SessionScopeKey(request.SessionId!.Value), JudgeSpendCounts = judgeSpendCounts };
        }

        if (lines.Length > 0)
        {
            (LedgerLine Line, CounterState State)? refused;
            try
            {
                refused = await _escrow.ReserveAsync(lines, (neededTokens, neededNano), request.NewSession, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                requestHeld?.Counter.Replace(requestHeld.Value.Held, (0, 0m));
                throw;
            }

            if (refused is { } r)
            {
                requestHeld?.Counter.Replace(requestHeld.Value.Held, (0, 0m));
                throw Refusal(counters[Array.IndexOf(lines, r.Line)].Policies, presetName, r.Line, (neededTokens, neededNano), r.State);
            }
        }

        foreach (var counter in counters)
        {
            // Not a session's: there is one per session, and another process rarely spends in the same session at once.
            // Written only when it changed: every call of a preset names the same policies, and a write allocates.
            var (key, period) = (counter.Line.ScopeKey, counter.Line.PeriodStart);
            if (!counter.IsSession && !(_counterPolicies.TryGetValue((key, period), out var known) && known.Preset == presetName &&
                                        (ReferenceEquals(known.Policies, counter.Policies) || known.Policies.SequenceEqual(counter.Policies))))
            {
                _counterPolicies[(key, period)] = (counter.Policies, presetName);
            }
        }

        var scopes = lines.Length + (requestHeld is null ? 0 : 1);
        // One string, formatted on the stack (no FormattableString, no boxed numbers, no piece of its own): every model call makes it.
        var text = new System.Runtime.CompilerServices.DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        text.AppendLiteral("Reserved up to ");
        text.AppendFormatted(neededTokens, "N0");
        text.AppendLiteral(" tokens (");
        text.AppendFormatted(inputTokens, "N0");
        text.AppendLiteral(" prompt by ");
        text.AppendLiteral(TokenEstimator.MethodFor(request.Provider));
        text.AppendLiteral(" + ");
        text.AppendFormatted(maxOutput, "N0");
        text.AppendLiteral(" output cap)");
        if (worst.Usd is { } usd)
        {
            text.AppendLiteral(" and $");
            text.AppendFormatted(usd, "0.######");
        }

        text.AppendLiteral(" in ");
        text.AppendFormatted(scopes);
        text.AppendLiteral(scopes == 1 ? " budget." : " budgets.");
        var decision = text.ToStringAndClear();
        return new LedgerReservation(this, lines, counters, presetName, decision, (neededTokens, neededNano), requestHeld);
    }

    /// <summary>
    /// Which counters a call with <paramref name="forCall"/> policies (and its gateway key's <paramref name="keyBudgets"/>)
    /// holds on, and with which hard limits: the same for every call of a preset (or key) until the policies or a period
    /// change, so it is worked out once and kept (a session's counter is named per call: it is the one entry without a
    /// key). The lists are compared as instances: the policy catalog and the key store keep theirs. Bounded like the
    /// policy catalog's own cache.
    /// </summary>
    private CounterPlan PlanFor(
        IReadOnlyList<BudgetPolicy> forCall, IReadOnlyList<BudgetPolicy> keyBudgets, string presetName, bool inSession, DateTimeOffset now)
    {
        var cacheKey = (forCall, keyBudgets, presetName, inSession);
        if (_plans.TryGetValue(cacheKey, out var cached) && cached.Covers(now))
        {
            return cached;
        }

        IReadOnlyList<BudgetPolicy> applicable = keyBudgets.Count == 0 ? forCall : [.. forCall, .. keyBudgets];

        var groups = new List<(string? Key, string Period, List<BudgetPolicy> Policies)>();
        var requestPolicies = new List<BudgetPolicy>();
        BudgetPolicy? unpricedRefusal = null;
        var validUntil = DateTimeOffset.MaxValue;
        foreach (var policy in applicable)
        {
            if (policy.MaxUsd is not null && policy.Mode == BudgetMode.Hard)
            {
                unpricedRefusal ??= policy;
            }

            if (policy.Scope == BudgetScope.Request)
            {
                requestPolicies.Add(policy);
                continue;
            }

            if (policy.Scope == BudgetScope.Session && !inSession)
            {
                continue;
            }

            var (period, until) = PeriodKey(policy.Period, now);
            validUntil = until < validUntil ? until : validUntil;
            string? key = policy.Scope == BudgetScope.Session ? null : BudgetPolicyCatalog.ScopeKey(policy, presetName, Guid.Empty);
            var group = groups.FindIndex(g => g.Key == key && g.Period == period);
            if (group < 0)
            {
                groups.Add((key, period, []));
                group = groups.Count - 1;
            }

            groups[group].Policies.Add(policy);
        }

        var counters = groups.Select(g =>
        {
            var (limitTokens, limitNano) = HardLimits(g.Policies);
            // A session's line is a template (its period and limits): each call that holds on it names its own session.
            return new PlannedCounter(new LedgerLine(g.Key ?? "", g.Period, limitTokens, limitNano), IsSession: g.Key is null, g.Policies);
        }).ToArray();
        var plan = new CounterPlan(counters, [.. counters.Select(c => c.Line)], requestPolicies, unpricedRefusal, now, validUntil);
        if (_plans.Count >= MaxPlans)
        {
            _plans.Clear();
        }

        _plans[cacheKey] = plan;
        return plan;
    }

    private const int MaxPlans = 1024;

    /// <summary>Whether a judge's calls for <paramref name="preset"/> count on its sessions' budgets (no judge budget takes them).</summary>
    private async ValueTask<bool> JudgeSpendCountsOnSessionAsync(AgentPreset? preset, CancellationToken cancellationToken)
    {
        var judgePolicies = await _policies.ForCallAsync(preset, judge: true, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < judgePolicies.Count; i++)
        {
            if (judgePolicies[i].Scope == BudgetScope.Session)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A counter a call holds on, with the policies behind it; for the call's session's (<see cref="IsSession"/>), the line is a template.</summary>
    private sealed record PlannedCounter(LedgerLine Line, bool IsSession, List<BudgetPolicy> Policies);

    /// <summary>
    /// The counters of one set of policies for a preset, in the periods of [<see cref="From"/>, <see cref="Until"/>), with
    /// their ledger lines, the per-request policies, and the first hard USD policy (a call of an unpriced model is refused by it).
    /// </summary>
    private sealed record CounterPlan(
        PlannedCounter[] Counters, LedgerLine[] Lines, List<BudgetPolicy> RequestPolicies, BudgetPolicy? UnpricedRefusal, DateTimeOffset From, DateTimeOffset Until)
    {
        public bool Covers(DateTimeOffset now) => now >= From && now < Until;
    }

    /// <summary>The period an instant falls in, as <see cref="BudgetPeriods.Key"/> names it, and when it ends (the instant itself when the zone cannot say).</summary>
    private (string Key, DateTimeOffset Until) PeriodKey(BudgetPeriod period, DateTimeOffset now) =>
        period == BudgetPeriod.None
            ? (BudgetPeriods.AllTimeKey, DateTimeOffset.MaxValue)
            : (BudgetPeriods.Key(period, now, _zone), BudgetPeriods.NextStart(period, now, _zone) ?? now);

    /// <summary>The lowest hard limits among a counter's policies (<see langword="null"/>: none in that unit).</summary>
    private static (long? Tokens, long? NanoUsd) HardLimits(List<BudgetPolicy> policies)
    {
        long? tokens = null, nano = null;
        foreach (var policy in policies)
        {
            if (policy.Mode != BudgetMode.Hard)
            {
                continue;
            }

            if (policy.MaxTokens is { } t && (tokens is null || t < tokens))
            {
                tokens = t;
            }

            if (NanoUsd.FromUsd(policy.MaxUsd) is { } n && (nano is null || n < nano))
            {
                nano = n;
            }
        }

        return (tokens, nano);
    }

    /// <summary>Holds the call's worst case on the request's own counter, checked against every hard per-request budget.</summary>
    private static (RequestBudgetCounter Counter, (long Tokens, decimal Usd) Held)? HoldRequest(
        List<BudgetPolicy> policies, RequestBudgetCounter? counter, string preset, (long Tokens, decimal Usd) needed)
    {
        if (policies.Count == 0)
        {
            return null;
        }

        var hard = policies.Where(p => p.Mode == BudgetMode.Hard).ToArray();
        if (hard.Length == 0)
        {
            return null;
        }

        counter ??= new RequestBudgetCounter();
        var limitTokens = hard.Min(p => p.MaxTokens);
        var limitUsd = hard.Min(p => p.MaxUsd);
        if (counter.TryHold(needed.Tokens, needed.Usd, limitTokens, limitUsd, out var before))
        {
            return (counter, needed);
        }

        if (limitTokens is { } tokens && before.Tokens + needed.Tokens > tokens)
        {
            var policy = hard.First(p => p.MaxTokens == tokens);
            throw new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(policy, preset), "per request", "tokens", tokens, before.Tokens, 0, needed.Tokens);
        }

        var usd = limitUsd!.Value;
        var usdPolicy = hard.First(p => p.MaxUsd == usd);
        throw new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(usdPolicy, preset), "per request", "USD", usd, before.Usd, 0, needed.Usd);
    }

    private static BudgetExceededException Refusal(List<BudgetPolicy> policies, string preset, LedgerLine line, (long Tokens, long NanoUsd) needed, CounterState state)
    {
        var period = line.PeriodStart == BudgetPeriods.AllTimeKey ? "no period" : line.PeriodStart;
        if (line.LimitTokens is { } tokenLimit && state.SpentTokens + state.ReservedTokens + needed.Tokens > tokenLimit)
        {
            var policy = policies.First(p => p.Mode == BudgetMode.Hard && p.MaxTokens == tokenLimit);
            return new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(policy, preset), period, "tokens", tokenLimit, state.SpentTokens, state.ReservedTokens, needed.Tokens);
        }

        var usdLimit = line.LimitNanoUsd ?? 0;
        var usdPolicy = policies.First(p => p.Mode == BudgetMode.Hard && NanoUsd.FromUsd(p.MaxUsd) == usdLimit);
        return new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(usdPolicy, preset), period, "USD",
            NanoUsd.ToUsd(usdLimit), NanoUsd.ToUsd(state.SpentNanoUsd), NanoUsd.ToUsd(state.ReservedNanoUsd), NanoUsd.ToUsd(needed.NanoUsd));
    }

    private ValueTask<IReadOnlyList<BudgetAlert>> ShrinkAsync(
        LedgerLine[] lines, PlannedCounter[] counters, string preset,
        (long Tokens, long NanoUsd) held, long tokens, long nanoUsd, CancellationToken cancellationToken)
    {
        // On the stack for the usual few counters: every model call settles, few cross anything.
        var buffer = default(FewOnStack<CounterChange>);
        var changes = lines.Length <= FewOnStack<CounterChange>.Length ? ((Span<CounterChange>)buffer)[..lines.Length] : new CounterChange[lines.Length];
        _escrow.Shrink(lines, held, tokens, nanoUsd, changes);
        List<(AlertKey Key, BudgetAlert Alert, string? Webhook)>? candidates = null;
        for (var i = 0; i < changes.Length; i++)
        {
            // The escrow reports the lines' changes in the lines' order.
            var policies = counters[i].Policies;
            for (var p = 0; p < policies.Count; p++)
            {
                AddCrossings(policies[p], changes[i], preset, ref candidates);
            }
        }

        return candidates is null ? ValueTask.FromResult<IReadOnlyList<BudgetAlert>>([]) : new ValueTask<IReadOnlyList<BudgetAlert>>(RaiseAsync(candidates, cancellationToken));
    }

    private void OnSpendMovedElsewhere((string Key, string Period) counter, (long Tokens, long NanoUsd) before, (long Tokens, long NanoUsd) after)
    {
        if (!_counterPolicies.TryGetValue(counter, out var known))
        {
            return;
        }

        var change = new CounterChange(counter.Key, counter.Period, before.Tokens, before.NanoUsd, after.Tokens, after.NanoUsd);
        List<(AlertKey Key, BudgetAlert Alert, string? Webhook)>? candidates = null;
        foreach (var policy in known.Policies)
        {
            AddCrossings(policy, change, known.Preset, ref candidates);
        }

        if (candidates is not null)
        {
            _ = RaiseInBackgroundAsync(candidates);
        }
    }

    private async Task RaiseInBackgroundAsync(List<(AlertKey Key, BudgetAlert Alert, string? Webhook)> candidates)
    {
        try
        {
            await RaiseAsync(candidates, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or ObjectDisposedException or Storage.StorageException)
        {
            LogAlertFailed(ex);
        }
    }

    /// <summary>Records the crossed thresholds and notifies those not recorded before (each fires once per period).</summary>
    private async Task<IReadOnlyList<BudgetAlert>> RaiseAsync(List<(AlertKey Key, BudgetAlert Alert, string? Webhook)> candidates, CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            return [];
        }

        var fresh = (await _ledger.RecordAlertsAsync(candidates.Select(c => c.Key).ToArray(), cancellationToken).ConfigureAwait(false)).ToHashSet();
        var alerts = new List<BudgetAlert>();
        foreach (var (key, alert, webhook) in candidates.Where(c => fresh.Contains(c.Key)))
        {
            _notifier.Notify(alert, webhook);
            alerts.Add(alert);
        }

        return alerts;
    }

    private static void AddCrossings(BudgetPolicy policy, CounterChange change, string preset, ref List<(AlertKey, BudgetAlert, string?)>? candidates)
    {
        if (policy.MaxTokens is { } tokens)
        {
            Check(policy, change.PeriodStart, preset, ref candidates, tokens, change.SpentTokensBefore, change.SpentTokensAfter, usd: false);
        }

        if (policy.MaxUsd is { } usd)
        {
            Check(policy, change.PeriodStart, preset, ref candidates, NanoUsd.FromUsd(usd) ?? 0, change.SpentNanoUsdBefore, change.SpentNanoUsdAfter, usd: true);
        }

        // Static, indexed, in whole tokens and nano-dollars: runs for every policy of every settled call, and a capturing
        // closure, a boxed enumerator and decimal arithmetic per threshold each showed in the budget layer's profile. The
        // amounts turn into dollars only for an alert.
        static void Check(
            BudgetPolicy policy, string period, string preset, ref List<(AlertKey, BudgetAlert, string?)>? candidates, long limit, long before, long after, bool usd)
        {
            if (after <= before)
            {
                return;
            }

            var thresholds = policy.Thresholds;
            for (var i = 0; i < thresholds.Count; i++)
            {
                // before < limit * t / 100 <= after, without the division (and without overflow, whatever the limit).
                var threshold = thresholds[i];
                var scaled = (Int128)limit * threshold;
                if ((Int128)before * 100 < scaled && (Int128)after * 100 >= scaled)
                {
                    (candidates ??= []).Add((new AlertKey(policy.Id, period, threshold),
                        new BudgetAlert(policy.Id, BudgetPolicyCatalog.DescribeScope(policy, preset), period, threshold, usd ? "USD" : "tokens",
                            usd ? policy.MaxUsd!.Value : limit, usd ? NanoUsd.ToUsd(after) : after),
                        policy.Webhook));
                }
            }
        }
    }

    private sealed class NoBudgetReservation(string decision) : IBudgetReservation
    {
        public string Decision { get; } = decision;

        public ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<BudgetAlert>>([]);

        public ValueTask CommitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask ReleaseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "Recording a budget alert failed.")]
    private partial void LogAlertFailed(Exception exception);

    /// <summary>
    /// A call's hold: reserved at its worst case, shrunk to what it used when settled, moved into spend when committed,
    /// or released. Each step happens once; a later call of the same step does nothing.
    /// </summary>
    private sealed class LedgerReservation(
        LedgerBudgetGate gate, LedgerLine[] lines, PlannedCounter[] counters, string preset, string decision,
        (long Tokens, long NanoUsd) worst, (RequestBudgetCounter Counter, (long Tokens, decimal Usd) Held)? request)
        : IBudgetReservation
    {
        private readonly Lock _gate = new();
        private (long Tokens, long NanoUsd) _held = worst;
        private (long Tokens, long NanoUsd)? _used;
        private bool _done;

        public string Decision { get; } = decision;

        public ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(usage);
            ArgumentNullException.ThrowIfNull(cost);
            (long Tokens, long NanoUsd) used = (usage.TotalTokens, NanoUsd.FromUsd(cost.Usd) ?? 0);
            (long Tokens, long NanoUsd) held;
            lock (_gate)
            {
                if (_done || _used is not null)
                {
                    return ValueTask.FromResult<IReadOnlyList<BudgetAlert>>([]);
                }

                held = _held;
                _used = used;
                _held = (Math.Min(used.Tokens, held.Tokens), Math.Min(used.NanoUsd, held.NanoUsd));
            }

            request?.Counter.Replace(request.Value.Held, (used.Tokens, cost.Usd ?? 0m));
            return lines.Length == 0 ? ValueTask.FromResult<IReadOnlyList<BudgetAlert>>([]) : gate.ShrinkAsync(lines, counters, preset, held, used.Tokens, used.NanoUsd, cancellationToken);
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            (long Tokens, long NanoUsd) held, used;
            lock (_gate)
            {
                if (_done || _used is not { } settled)
                {
                    return ValueTask.CompletedTask;
                }

                _done = true;
                (held, used) = (_held, settled);
            }

            if (lines.Length > 0)
            {
                gate._escrow.Settle(lines, held, used.Tokens, used.NanoUsd);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask ReleaseAsync(CancellationToken cancellationToken)
        {
            (long Tokens, long NanoUsd) held;
            lock (_gate)
            {
                if (_done || _used is not null)
                {
                    return ValueTask.CompletedTask;
                }

                _done = true;
                held = _held;
            }

            request?.Counter.Replace(request.Value.Held, (0, 0m));
            if (lines.Length > 0)
            {
                gate._escrow.Release(lines, held);
            }

            return ValueTask.CompletedTask;
        }
    }
}
