using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Budgets;

/// <summary>
/// The budget step: estimates the request's worst case (real tokenizer + output cap, priced at full rates), checks
/// request budgets, and reserves the worst case on every session, agent and global counter that applies, all or
/// nothing. After the run it settles to actual usage and raises the alert thresholds that were crossed.
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
        var applicable = await _policies.ForPresetAsync(request.Preset, cancellationToken).ConfigureAwait(false);
        var local = request.ChatClient?.GetService(typeof(Steward.LocalModels.LocalChatClient)) as Steward.LocalModels.LocalChatClient;
        var inputTokens = TokenEstimator.CountPrompt(request.Provider, request.Preset.Instructions, request.Prompt,
            exactCounter: local is null ? null : messages => local.CountPromptTokens(messages));
        var maxOutput = request.MaxOutputTokens ?? _options.Value.DefaultMaxOutputTokens;
        var neededTokens = inputTokens + maxOutput;
        var worst = request.PriceWorstCase?.Invoke(inputTokens, maxOutput) ?? RunCost.Unpriced;
        var neededNano = NanoUsd.FromUsd(worst.Usd) ?? 0;
        var estimate = FormattableString.Invariant(
            $"up to {neededTokens:N0} tokens ({inputTokens:N0} prompt by {TokenEstimator.MethodFor(request.Provider)} + {maxOutput:N0} output cap)") +
            (worst.Usd is { } usd ? FormattableString.Invariant($" and ${usd:0.######}") : "");
        if (applicable.Count == 0)
        {
            return new NoBudgetReservation($"No budget applies ({estimate}).");
        }

        var now = _time.GetUtcNow();
        var counters = new Dictionary<(string Key, string Period), List<BudgetPolicy>>();
        foreach (var policy in applicable)
        {
            if (policy.MaxUsd is not null && !worst.IsPriced && policy.Mode == BudgetMode.Hard)
            {
                throw new BudgetExceededException(
                    $"{BudgetPolicyCatalog.DescribeScope(policy, request.Preset.Name)}: model '{request.Provider.Model}' has no price, so a USD limit cannot be checked. " +
                    $"Add its price under Steward:Pricing:Models, or remove the USD limit.");
            }

            if (policy.Scope == BudgetScope.Request)
            {
                CheckRequest(policy, request.Preset.Name, neededTokens, worst.Usd);
                continue;
            }

            var key = (BudgetPolicyCatalog.ScopeKey(policy, request.Preset.Name, request.SessionId), BudgetPeriods.Key(policy.Period, now, _zone));
            if (!counters.TryGetValue(key, out var list))
            {
                counters[key] = list = [];
            }

            list.Add(policy);
        }

        var lines = counters.Select(c => new LedgerLine(c.Key.Key, c.Key.Period, neededTokens, neededNano,
            c.Value.Where(p => p.Mode == BudgetMode.Hard).Min(p => p.MaxTokens),
            c.Value.Where(p => p.Mode == BudgetMode.Hard).Min(p => NanoUsd.FromUsd(p.MaxUsd)))).ToArray();
        if (lines.Length > 0 &&
            await _escrow.ReserveAsync(lines, line => request.NewSession && BudgetPolicyCatalog.IsSessionKey(line.ScopeKey), cancellationToken)
                .ConfigureAwait(false) is { } refused)
        {
            throw Refusal(counters[(refused.Line.ScopeKey, refused.Line.PeriodStart)], request.Preset.Name, refused.Line, refused.State);
        }

        foreach (var (key, list) in counters)
        {
            _counterPolicies[key] = (list, request.Preset.Name);
        }

        var decision = lines.Length == 0
            ? $"Within the request budget: {estimate}."
            : $"Reserved {estimate} in {lines.Length} budget{(lines.Length == 1 ? "" : "s")}.";
        return new LedgerReservation(this, lines, counters, request.Preset.Name, decision);
    }

    private static void CheckRequest(BudgetPolicy policy, string preset, long neededTokens, decimal? neededUsd)
    {
        if (policy.Mode != BudgetMode.Hard)
        {
            return;
        }

        if (policy.MaxTokens is { } tokens && neededTokens > tokens)
        {
            throw new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(policy, preset), "per request", "tokens", tokens, 0, 0, neededTokens);
        }

        if (policy.MaxUsd is { } usd && neededUsd > usd)
        {
            throw new BudgetExceededException(BudgetPolicyCatalog.DescribeScope(policy, preset), "per request", "USD", usd, 0, 0, neededUsd.Value);
        }
    }

    private static BudgetExceededException Refusal(List<BudgetPolicy> policies, string preset, LedgerLine line, CounterState state)
    {
        var period = line.PeriodStart == "all" ? "no period" : line.PeriodStart;
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

    private async ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(
        LedgerLine[] lines, Dictionary<(string Key, string Period), List<BudgetPolicy>> counters, string preset,
        RunUsage usage, RunCost cost, CancellationToken cancellationToken)
    {
        var changes = _escrow.Settle(lines, usage.TotalTokens, NanoUsd.FromUsd(cost.Usd) ?? 0);
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
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or ObjectDisposedException)
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

        public ValueTask ReleaseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "Recording a budget alert failed.")]
    private partial void LogAlertFailed(Exception exception);

    /// <summary>A run's hold. Settled or released once: a second call does nothing.</summary>
    private sealed class LedgerReservation(
        LedgerBudgetGate gate, LedgerLine[] lines, Dictionary<(string Key, string Period), List<BudgetPolicy>> counters, string preset, string decision)
        : IBudgetReservation
    {
        private int _done;

        public string Decision { get; } = decision;

        public async ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken) =>
            lines.Length == 0 || Interlocked.Exchange(ref _done, 1) == 1
                ? []
                : await gate.SettleAsync(lines, counters, preset, usage, cost, cancellationToken).ConfigureAwait(false);

        public ValueTask ReleaseAsync(CancellationToken cancellationToken)
        {
            if (lines.Length > 0 && Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate._escrow.Release(lines);
            }

            return ValueTask.CompletedTask;
        }
    }
}
