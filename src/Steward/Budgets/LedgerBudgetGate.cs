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
    private readonly PeriodKeyEntry?[] _periodKeys = new PeriodKeyEntry?[Enum.GetValues<BudgetPeriod>().Max(p => (int)p) + 1];

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
        if (request.ApiKeyBudgets.Count > 0)
        {
            applicable = [.. applicable, .. request.ApiKeyBudgets];
        }

        var maxOutput = request.MaxOutputTokens;
        if (applicable.Count == 0)
        {
            // Nothing to check, so the prompt is not counted: counting is the expensive part of a budget check.
            return new NoBudgetReservation(FormattableString.Invariant($"No budget applies (output cap {maxOutput:N0})."));
        }

        var presetName = request.Preset?.Name ?? "";
        var inputTokens = request.CountPrompt();
        var neededTokens = inputTokens + maxOutput;
        var worst = request.PriceWorstCase?.Invoke(inputTokens, maxOutput) ?? RunCost.Unpriced;
        var neededNano = NanoUsd.FromUsd(worst.Usd) ?? 0;
        var now = _time.GetUtcNow();
        var counters = new Dictionary<(string Key, string Period), List<BudgetPolicy>>();
        var requestPolicies = new List<BudgetPolicy>();
        foreach (var policy in applicable)
        {
            if (policy.MaxUsd is not null && !worst.IsPriced && policy.Mode == BudgetMode.Hard)
            {
                throw new BudgetExceededException(
                    $"{BudgetPolicyCatalog.DescribeScope(policy, presetName)}: model '{request.Provider.Model}' has no price, so a USD limit cannot be checked. " +
                    $"Add its price under Steward:Pricing:Models, or remove the USD limit.");
            }

            if (policy.Scope == BudgetScope.Request)
            {
                requestPolicies.Add(policy);
                continue;
            }

            if (policy.Scope == BudgetScope.Session && request.SessionId is null)
            {
                continue;
            }

            var key = (BudgetPolicyCatalog.ScopeKey(policy, presetName, request.SessionId ?? Guid.Empty), PeriodKey(policy.Period, now));
            if (!counters.TryGetValue(key, out var list))
            {
                counters[key] = list = [];
            }

            list.Add(policy);
        }

        var held = (Tokens: neededTokens, Usd: worst.Usd ?? 0m);
        var requestHeld = HoldRequest(requestPolicies, request.Request, presetName, held);
        var lines = new LedgerLine[counters.Count];
        var index = 0;
        foreach (var (key, list) in counters)
        {
            var (limitTokens, limitNano) = HardLimits(list);
            lines[index++] = new LedgerLine(key.Key, key.Period, neededTokens, neededNano, limitTokens, limitNano);
        }

        if (lines.Length > 0)
        {
            (LedgerLine Line, CounterState State)? refused;
            try
            {
                refused = await _escrow.ReserveAsync(lines, request.NewSession, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                requestHeld?.Counter.Replace(requestHeld.Value.Held, (0, 0m));
                throw;
            }

            if (refused is { } r)
            {
                requestHeld?.Counter.Replace(requestHeld.Value.Held, (0, 0m));
                throw Refusal(counters[(r.Line.ScopeKey, r.Line.PeriodStart)], presetName, r.Line, r.State);
            }
        }

        foreach (var (key, list) in counters)
        {
            // Not a session's: there is one per session, and another process rarely spends in the same session at once.
            // Written only when it changed: every call of a preset names the same policies, and a write allocates.
            if (!BudgetPolicyCatalog.IsSessionKey(key.Key) &&
                !(_counterPolicies.TryGetValue(key, out var known) && known.Preset == presetName && known.Policies.SequenceEqual(list)))
            {
                _counterPolicies[key] = (list, presetName);
            }
        }

        var scopes = lines.Length + (requestHeld is null ? 0 : 1);
        // One string, formatted in place (no FormattableString, no boxed numbers): every model call makes it.
        var cost = worst.Usd is { } usd ? string.Create(CultureInfo.InvariantCulture, $" and ${usd:0.######}") : "";
        var decision = string.Create(CultureInfo.InvariantCulture,
            $"Reserved up to {neededTokens:N0} tokens ({inputTokens:N0} prompt by {TokenEstimator.MethodFor(request.Provider)} + {maxOutput:N0} output cap){cost} in {scopes} budget{(scopes == 1 ? "" : "s")}.");
        return new LedgerReservation(this, lines, counters, presetName, decision, (neededTokens, neededNano), requestHeld);
    }

    /// <summary>
    /// The period an instant falls in, as <see cref="BudgetPeriods.Key"/> names it, kept until the period ends: every
    /// model call names the periods of its budgets, and formatting the date each time allocated a string per budget.
    /// </summary>
    private string PeriodKey(BudgetPeriod period, DateTimeOffset now)
    {
        if (period == BudgetPeriod.None)
        {
            return BudgetPeriods.AllTimeKey;
        }

        var index = (int)period;
        if (index < 0 || index >= _periodKeys.Length)
        {
            return BudgetPeriods.Key(period, now, _zone);
        }

        if (Volatile.Read(ref _periodKeys[index]) is { } cached && now >= cached.From && now < cached.Until)
        {
            return cached.Key;
        }

        var key = BudgetPeriods.Key(period, now, _zone);
        // The period's bounds as instants; a period whose end the zone cannot name (none) is not kept.
        if (BudgetPeriods.NextStart(period, now, _zone) is { } until)
        {
            Volatile.Write(ref _periodKeys[index], new PeriodKeyEntry(key, now, until));
        }

        return key;
    }

    private sealed record PeriodKeyEntry(string Key, DateTimeOffset From, DateTimeOffset Until);

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

    private static BudgetExceededException Refusal(List<BudgetPolicy> policies, string preset, LedgerLine line, CounterState state)
    {
        var period = line.PeriodStart == BudgetPeriods.AllTimeKey ? "no period" : line.PeriodStart;
        if (line.LimitTokens is { } tokenLimit && state.SpentTokens + state.ReservedTokens + line.Tokens > tokenLimit)
        {
            var policy = policies.First(p => p.Mode == BudgetMode.Hard && p.MaxTokens == tokenLimit);
            return new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(policy, preset), period, "tokens", tokenLimit, state.SpentTokens, state.ReservedTokens, line.Tokens);
        }

        var usdLimit = line.LimitNanoUsd ?? 0;
        var usdPolicy = policies.First(p => p.Mode == BudgetMode.Hard && NanoUsd.FromUsd(p.MaxUsd) == usdLimit);
        return new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(usdPolicy, preset), period, "USD",
            NanoUsd.ToUsd(usdLimit), NanoUsd.ToUsd(state.SpentNanoUsd), NanoUsd.ToUsd(state.ReservedNanoUsd), NanoUsd.ToUsd(line.NanoUsd));
    }

    private async ValueTask<IReadOnlyList<BudgetAlert>> ShrinkAsync(
        LedgerLine[] lines, Dictionary<(string Key, string Period), List<BudgetPolicy>> counters, string preset,
        (long Tokens, long NanoUsd) held, long tokens, long nanoUsd, CancellationToken cancellationToken)
    {
        var changes = _escrow.Shrink(lines, held, tokens, nanoUsd);
        var candidates = new List<(AlertKey Key, BudgetAlert Alert, string? Webhook)>();
        foreach (var change in changes)
        {
            foreach (var policy in counters[(change.ScopeKey, change.PeriodStart)])
            {
                AddCrossings(policy, change, preset, candidates);
            }
        }

        return await RaiseAsync(candidates, cancellationToken).ConfigureAwait(false);
    }

    private void OnSpendMovedElsewhere((string Key, string Period) counter, (long Tokens, long NanoUsd) before, (long Tokens, long NanoUsd) after)
    {
        if (!_counterPolicies.TryGetValue(counter, out var known))
        {
            return;
        }

        var change = new CounterChange(counter.Key, counter.Period, before.Tokens, before.NanoUsd, after.Tokens, after.NanoUsd);
        var candidates = new List<(AlertKey Key, BudgetAlert Alert, string? Webhook)>();
        foreach (var policy in known.Policies)
        {
            AddCrossings(policy, change, known.Preset, candidates);
        }

        if (candidates.Count > 0)
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

    private static void AddCrossings(BudgetPolicy policy, CounterChange change, string preset, List<(AlertKey, BudgetAlert, string?)> candidates)
    {
        void Check(decimal limit, decimal before, decimal after, string unit)
        {
            foreach (var threshold in policy.Thresholds)
            {
                var level = limit * threshold / 100m;
                if (before < level && after >= level)
                {
                    candidates.Add((new AlertKey(policy.Id, change.PeriodStart, threshold),
                        new BudgetAlert(policy.Id, BudgetPolicyCatalog.DescribeScope(policy, preset), change.PeriodStart, threshold, unit, limit, after),
                        policy.Webhook));
                }
            }
        }

        if (policy.MaxTokens is { } tokens)
        {
            Check(tokens, change.SpentTokensBefore, change.SpentTokensAfter, "tokens");
        }

        if (policy.MaxUsd is { } usd)
        {
            Check(usd, NanoUsd.ToUsd(change.SpentNanoUsdBefore), NanoUsd.ToUsd(change.SpentNanoUsdAfter), "USD");
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
        LedgerBudgetGate gate, LedgerLine[] lines, Dictionary<(string Key, string Period), List<BudgetPolicy>> counters, string preset, string decision,
        (long Tokens, long NanoUsd) worst, (RequestBudgetCounter Counter, (long Tokens, decimal Usd) Held)? request)
        : IBudgetReservation
    {
        private readonly Lock _gate = new();
        private (long Tokens, long NanoUsd) _held = worst;
        private (long Tokens, long NanoUsd)? _used;
        private bool _done;

        public string Decision { get; } = decision;

        public async ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(usage);
            ArgumentNullException.ThrowIfNull(cost);
            (long Tokens, long NanoUsd) used = (usage.TotalTokens, NanoUsd.FromUsd(cost.Usd) ?? 0);
            (long Tokens, long NanoUsd) held;
            lock (_gate)
            {
                if (_done || _used is not null)
                {
                    return [];
                }

                held = _held;
                _used = used;
                _held = (Math.Min(used.Tokens, held.Tokens), Math.Min(used.NanoUsd, held.NanoUsd));
            }

            request?.Counter.Replace(request.Value.Held, (used.Tokens, cost.Usd ?? 0m));
            return lines.Length == 0 ? [] : await gate.ShrinkAsync(lines, counters, preset, held, used.Tokens, used.NanoUsd, cancellationToken).ConfigureAwait(false);
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
