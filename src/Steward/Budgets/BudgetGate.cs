using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Budgets;

/// <summary>What the runner asks the budget step to reserve, before anything reaches the model.</summary>
/// <param name="RunId">The run; its reservation carries this id.</param>
/// <param name="SessionId">The session, for session budgets.</param>
/// <param name="Preset">The preset, for agent budgets and the preset's own limits.</param>
/// <param name="Provider">The provider and model, for the tokenizer and prices.</param>
/// <param name="Prompt">History and the new message (the instructions come from the preset).</param>
/// <param name="MaxOutputTokens">The output cap; <see langword="null"/> uses <c>Steward:Budgets:DefaultMaxOutputTokens</c>.</param>
/// <param name="ChatClient">The agent's chat client, so a model that can count its own prompt exactly (the embedded engine) does.</param>
/// <param name="PriceWorstCase">What (input tokens, output cap) would cost at most; supplied by the runner, which composes
/// budgets with pricing. <see langword="null"/> means the model is unpriced.</param>
/// <param name="NewSession">The run created its session, so nothing can have been spent in it yet.</param>
public sealed record BudgetRequest(
    Guid RunId, Guid SessionId, AgentPreset Preset, ResolvedProvider Provider, IReadOnlyList<ChatMessage> Prompt, int? MaxOutputTokens,
    IChatClient? ChatClient = null, Func<long, long, RunCost>? PriceWorstCase = null, bool NewSession = false);

/// <summary>The runner's budget seam: reserve the worst case before the call, settle or release after.</summary>
public interface IBudgetGate
{
    /// <summary>Reserves the request's worst case in every scope that applies, or refuses.</summary>
    /// <exception cref="BudgetExceededException">A limit would be exceeded; nothing was reserved.</exception>
    ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken);
}

/// <summary>A held reservation. Exactly one of <see cref="SettleAsync"/> or <see cref="ReleaseAsync"/> is called.</summary>
public interface IBudgetReservation
{
    /// <summary>A short description of the decision, for the progress log.</summary>
    string Decision { get; }

    /// <summary>Replaces the reservation with what the run actually used; returns the alert thresholds this crossed.</summary>
    ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken);

    /// <summary>Gives the reservation back (failure or cancellation).</summary>
    ValueTask ReleaseAsync(CancellationToken cancellationToken);
}

/// <summary>A budget crossed one of its alert thresholds (each fires once per period).</summary>
public sealed record BudgetAlert(string PolicyId, string Scope, string Period, int Threshold, string Unit, decimal Limit, decimal Spent)
{
    /// <summary>One line for logs and the progress log.</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"Budget '{PolicyId}' ({Scope}, {Period}) reached {Threshold}%: {Spent:0.######} of {Limit:0.######} {Unit}.");
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
