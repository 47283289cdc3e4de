namespace Steward.Calls;

/// <summary>What the layer above the recording layer does around a call it prepared: hold before it is sent, settle once it ended.</summary>
internal interface IGovernedCallGate
{
    /// <summary>Holds the call's worst case; throws when a budget refuses it (nothing is sent then).</summary>
    ValueTask<Budgets.IBudgetReservation> ReserveAsync(GovernedCall call, CancellationToken cancellationToken);

    /// <summary>Settles the hold with what the call used, whatever ended it.</summary>
    Task SettleAsync(GovernedCall call, Budgets.IBudgetReservation reservation);
}
