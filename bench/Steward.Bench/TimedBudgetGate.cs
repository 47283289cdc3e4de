using System.Collections.Concurrent;
using System.Diagnostics;
using Steward.Agents;
using Steward.Budgets;

namespace Steward.Bench;

/// <summary>Wraps the real budget gate and records how long each model call spends inside the budget steps (reserve + settle + commit).</summary>
internal sealed class TimedBudgetGate(IBudgetGate inner) : IBudgetGate
{
    private readonly ConcurrentDictionary<Guid, double> _times = new();

    public double[] TakeSorted()
    {
        var values = _times.Values.ToArray();
        _times.Clear();
        Array.Sort(values);
        return values;
    }

    public async ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var reservation = await inner.ReserveAsync(request, cancellationToken).ConfigureAwait(false);
        // One entry per model call: each reserve, settle and commit of a call adds to it.
        var call = Guid.NewGuid();
        _times[call] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        return new Timed(reservation, this, call);
    }

    private sealed class Timed(IBudgetReservation inner, TimedBudgetGate owner, Guid runId) : IBudgetReservation
    {
        public string Decision => inner.Decision;

        public async ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var alerts = await inner.SettleAsync(usage, cost, cancellationToken).ConfigureAwait(false);
            owner._times.AddOrUpdate(runId, 0, (_, t) => t + Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            return alerts;
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            await inner.CommitAsync(cancellationToken).ConfigureAwait(false);
            owner._times.AddOrUpdate(runId, 0, (_, t) => t + Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }

        public ValueTask ReleaseAsync(CancellationToken cancellationToken) => inner.ReleaseAsync(cancellationToken);
    }
}
