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

    // Each step awaits only when the real one did not finish at once: an async wrapper's state machine on every step of
    // every call was the bench's own cost (about 2 µs of CPU per run in a profile), charged to the governed setting alone.
    public ValueTask<IBudgetReservation> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var reserving = inner.ReserveAsync(request, cancellationToken);
        return reserving.IsCompletedSuccessfully
            ? ValueTask.FromResult<IBudgetReservation>(new Timed(reserving.Result, this, Stopwatch.GetElapsedTime(started).TotalMicroseconds))
            : ReserveLaterAsync(reserving, started);
    }

    private async ValueTask<IBudgetReservation> ReserveLaterAsync(ValueTask<IBudgetReservation> reserving, long started)
    {
        var reservation = await reserving.ConfigureAwait(false);
        return new Timed(reservation, this, Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }

    // One entry per model call, added once its hold is committed or released: the timing itself must cost next to nothing,
    // or the benchmark would charge its own bookkeeping to the layers it measures.
    private sealed class Timed(IBudgetReservation inner, TimedBudgetGate owner, double reserved) : IBudgetReservation
    {
        private double _spent = reserved;

        public string Decision => inner.Decision;

        public ValueTask<IReadOnlyList<BudgetAlert>> SettleAsync(RunUsage usage, RunCost cost, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var settling = inner.SettleAsync(usage, cost, cancellationToken);
            if (!settling.IsCompletedSuccessfully)
            {
                return SettleLaterAsync(settling, started);
            }

            _spent += Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            return settling;
        }

        private async ValueTask<IReadOnlyList<BudgetAlert>> SettleLaterAsync(ValueTask<IReadOnlyList<BudgetAlert>> settling, long started)
        {
            var alerts = await settling.ConfigureAwait(false);
            _spent += Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            return alerts;
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var committing = inner.CommitAsync(cancellationToken);
            if (!committing.IsCompletedSuccessfully)
            {
                return CommitLaterAsync(committing, started);
            }

            owner._times.Enqueue(_spent + Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            return ValueTask.CompletedTask;
        }

        private async ValueTask CommitLaterAsync(ValueTask committing, long started)
        {
            await committing.ConfigureAwait(false);
            owner._times.Enqueue(_spent + Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        }

        public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
        {
            await inner.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            owner._times.Enqueue(_spent);
        }
    }
}
