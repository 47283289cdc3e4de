using System.Collections.Concurrent;
using System.Diagnostics;
using Steward.Agents;
using Steward.Budgets;

namespace Steward.Bench;

/// <summary>Wraps the real budget gate and records how long each model call spends inside the budget steps (reserve + settle + commit).</summary>
internal sealed class TimedBudgetGate(IBudgetGate inner) : IBudgetGate
{
    private readonly ConcurrentQueue<double> _times = new();

    public double[] TakeSorted()
    {
        var values = new List<double>(_times.Count);
        while (_times.TryDequeue(out var value))
        {
            values.Add(value);
        }

        values.Sort();
        return [.. values];
    }

    public async ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var reservation = await inner.ReserveAsync(request, cancellationToken).ConfigureAwait(false);
        // One entry per model call, added once its hold is committed or released: the timing itself must cost next to nothing,
        // or the benchmark would charge its own bookkeeping to the layers it measures.
        return new Timed(reservation, this, Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }

    private sealed class Timed(IBudgetReservation inner, TimedBudgetGate owner, double reserved) : IBudgetReservation
    {
        private double _spent = reserved;

        public string Decision => inner.Decision;

        public async ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var alerts = await inner.SettleAsync(usage, cost, cancellationToken).ConfigureAwait(false);
            _spent += Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            return alerts;
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            await inner.CommitAsync(cancellationToken).ConfigureAwait(false);
            owner._times.Enqueue(_spent + Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }

        public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
        {
            await inner.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            owner._times.Enqueue(_spent);
        }
    }
}
