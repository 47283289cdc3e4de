using Steward.Agents;
using Steward.Providers;

namespace Steward.Budgets;

/// <summary>
/// What one model call asks the budget step to reserve, before anything reaches the model. The prompt is counted only
/// when a budget applies (<see cref="CountPrompt"/> is not called otherwise).
/// </summary>
public sealed record BudgetRequest
{
    /// <summary>The preset whose budgets apply; <see langword="null"/> for a call made for no preset (global budgets only).</summary>
    public AgentPreset? Preset { get; init; }

    /// <summary>The session, for session budgets.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>The session was created by this run, so nothing can have been spent in it yet.</summary>
    public bool NewSession { get; init; }

    /// <summary>A judge's call: judge budgets apply when configured, else the agent's (except per-request ones).</summary>
    public bool Judge { get; init; }

    /// <summary>The provider and model, for the tokenizer and prices.</summary>
    public required ResolvedProvider Provider { get; init; }

    /// <summary>The output cap the call is sent with: the worst case is the prompt plus this.</summary>
    public required int MaxOutputTokens { get; init; }

    /// <summary>Counts the call's prompt (messages, instructions, tool schemas) with the model's tokenizer.</summary>
    public required Func<long> CountPrompt { get; init; }

    /// <summary>What (input tokens, output cap) would cost at most; <see langword="null"/> or unpriced when the model has no price.</summary>
    public Func<long, long, RunCost>? PriceWorstCase { get; init; }

    /// <summary>The request's own counter, shared by its calls, for per-request budgets; <see langword="null"/> for none.</summary>
    public RequestBudgetCounter? Request { get; init; }

    /// <summary>The budgets of the gateway key the request was made with (scope <see cref="BudgetScope.ApiKey"/>), checked with the others.</summary>
    public IReadOnlyList<BudgetPolicy> ApiKeyBudgets { get; init; } = [];
}

/// <summary>The budget step of every model call: reserve the call's worst case before it is sent, settle or release after.</summary>
public interface IBudgetGate
{
    /// <summary>Reserves the call's worst case in every scope that applies, all or nothing, or refuses.</summary>
    /// <exception cref="BudgetExceededException">A limit would be exceeded; nothing was reserved.</exception>
    ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// A call's held reservation. After the call, <see cref="SettleAsync"/> replaces the worst case with what the call used
/// (still held, so no one else can spend it) and <see cref="CommitAsync"/>, called once the call's record is stored, moves
/// it into the counters' spend; or <see cref="ReleaseAsync"/> gives it back when nothing was used. Each step runs once.
/// </summary>
public interface IBudgetReservation
{
    /// <summary>A short description of the decision, for the progress log.</summary>
    string Decision { get; }

    /// <summary>Holds what the call actually used instead of its worst case; returns the alert thresholds this crosses.</summary>
    ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken);

    /// <summary>Moves the settled usage into the counters' spend (written back shortly after). Settles nothing if not settled.</summary>
    ValueTask CommitAsync(CancellationToken cancellationToken);

    /// <summary>Gives the reservation back (the call used nothing).</summary>
    ValueTask ReleaseAsync(CancellationToken cancellationToken);
}

/// <summary>
/// What the calls of one request (a run) have used and hold, so per-request budgets cover the whole request, however many
/// calls its tool loop makes. In memory: a request runs in one process. Thread-safe.
/// </summary>
public sealed class RequestBudgetCounter
{
    private readonly Lock _gate = new();
    private long _tokens;
    private decimal _usd;

    /// <summary>Tokens and USD used and held so far.</summary>
    public (long Tokens, decimal Usd) Current
    {
        get
        {
            lock (_gate)
            {
                return (_tokens, _usd);
            }
        }
    }

    /// <summary>Holds (<paramref name="tokens"/>, <paramref name="usd"/>) unless that would pass a limit; <paramref name="before"/> is what was used and held.</summary>
    internal bool TryHold(long tokens, decimal usd, long? limitTokens, decimal? limitUsd, out (long Tokens, decimal Usd) before)
    {
        lock (_gate)
        {
            before = (_tokens, _usd);
            if ((limitTokens is { } t && _tokens + tokens > t) || (limitUsd is { } u && _usd + usd > u))
            {
                return false;
            }

            _tokens += tokens;
            _usd += usd;
            return true;
        }
    }

    /// <summary>Replaces a held amount with another (what the call used, or nothing).</summary>
    internal void Replace((long Tokens, decimal Usd) held, (long Tokens, decimal Usd) used)
    {
        lock (_gate)
        {
            _tokens += used.Tokens - held.Tokens;
            _usd += used.Usd - held.Usd;
        }
    }
}

/// <summary>A budget crossed one of its alert thresholds (each fires once per period).</summary>
public sealed record BudgetAlert(string PolicyId, string Scope, string Period, int Threshold, string Unit, decimal Limit, decimal Spent)
{
    /// <summary>
    /// One line for logs and the progress log, in the CLI's words: "Session budget 'per-chat' reached 50 %: 1,147 of 1,500
    /// tokens.", "Global budget 'team' reached 80 % in 2026-12: $200 of $250.".
    /// </summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{char.ToUpperInvariant(Scope[0])}{Scope[1..]} reached {Threshold} %{(Period == BudgetPeriods.AllTimeKey ? "" : " in " + Period)}: {Amounts()}.");

    private string Amounts() => Unit == "USD"
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"${Spent:0.######} of ${Limit:0.######}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Spent:#,0.######} of {Limit:#,0.######} {Unit}");
}

/// <summary>A budget limit would be exceeded; nothing was reserved and nothing reached the model.</summary>
public sealed class BudgetExceededException : Exception
{
    public BudgetExceededException(string scope, string period, string unit, decimal limit, decimal spent, decimal reserved, decimal needed)
        : base(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Budget exceeded for {scope} ({period}): limit {limit:0.######} {unit}, spent {spent:0.######}, reserved {reserved:0.######} by requests in flight, this request needs up to {needed:0.######}."))
    {
        Scope = scope;
        Period = period;
        Unit = unit;
        Limit = limit;
        Spent = spent;
        Reserved = reserved;
        Needed = needed;
    }

    public BudgetExceededException() { }

    public BudgetExceededException(string message) : base(message) { }

    public BudgetExceededException(string message, Exception innerException) : base(message, innerException) { }

    public string Scope { get; } = "";
    public string Period { get; } = "";
    public string Unit { get; } = "";
    public decimal Limit { get; }
    public decimal Spent { get; }
    public decimal Reserved { get; }
    public decimal Needed { get; }
}
