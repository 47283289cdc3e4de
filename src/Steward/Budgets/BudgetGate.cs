using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Providers;

namespace Steward.Budgets;

/// <summary>What the runner asks the budget step to reserve, before anything reaches the model.</summary>
public sealed record BudgetRequest(
    Guid RunId, Guid SessionId, AgentPreset Preset, ResolvedProvider Provider, IReadOnlyList<ChatMessage> Prompt, int? MaxOutputTokens);

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

    /// <summary>Replaces the reservation with what the run actually used.</summary>
    ValueTask SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken);

    /// <summary>Gives the reservation back (failure or cancellation).</summary>
    ValueTask ReleaseAsync(CancellationToken cancellationToken);
}

/// <summary>A budget limit would be exceeded. The message names scope, limit, spent and needed.</summary>
public sealed class BudgetExceededException : Exception
{
    public BudgetExceededException(string scope, string unit, decimal limit, decimal spent, decimal needed)
        : base($"Budget exceeded for {scope}: limit {limit:0.######} {unit}, spent {spent:0.######} {unit}, this request needs up to {needed:0.######} {unit}.")
    {
        Scope = scope;
        Unit = unit;
        Limit = limit;
        Spent = spent;
        Needed = needed;
    }

    public BudgetExceededException() { }

    public BudgetExceededException(string message) : base(message) { }

    public BudgetExceededException(string message, Exception innerException) : base(message, innerException) { }

    public string Scope { get; } = "";
    public string Unit { get; } = "";
    public decimal Limit { get; }
    public decimal Spent { get; }
    public decimal Needed { get; }
}
