using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Steward.Bench;

/// <summary>
/// Times what the governed-call layers (budget and recording) add to each model call: the time from entering the
/// pipeline to reaching the model, plus from the model's last update to leaving the pipeline. An outer wrapper marks
/// the call in the async flow and the model marks when it is reached and left.
/// </summary>
internal sealed class GovernanceTimer
{
    // Carried down by the async flow, not in the call's options: a property of the options would make the governed layers
    // copy the options' dictionary to pass it on (they take their own entries out), a cost only the governed setting would pay.
    private static readonly AsyncLocal<Timing?> Current = new();
    private readonly ConcurrentBag<double> _times = [];

    public IChatClient Wrap(IChatClient inner) => new Outer(inner, this);

    /// <summary>Called by the model when it is reached.</summary>
    public static Timing? Enter()
    {
        if (Current.Value is { } timing)
        {
            timing.Reached = Stopwatch.GetTimestamp();
            return timing;
        }

        return null;
    }

    public double[] TakeSorted()
    {
        var values = _times.ToArray();
        _times.Clear();
        Array.Sort(values);
        return values;
    }

    internal sealed class Timing
    {
        public long Entered { get; } = Stopwatch.GetTimestamp();
        public long Reached { get; set; }
        public long Left { get; set; }

        public void Leave() => Left = Stopwatch.GetTimestamp();
    }

    private sealed class Outer(IChatClient inner, GovernanceTimer owner) : DelegatingChatClient(inner)
    {
        public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var timing = new Timing();
            Current.Value = timing;
            var updates = new List<ChatResponseUpdate>();
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                updates.Add(update);
            }

            Current.Value = null;

            // Everything between entering and reaching the model, and between the model's end and here, is the layers'.
            var done = Stopwatch.GetTimestamp();
            owner._times.Add(Stopwatch.GetElapsedTime(timing.Entered, timing.Reached).TotalMicroseconds + Stopwatch.GetElapsedTime(timing.Left, done).TotalMicroseconds);
            foreach (var update in updates)
            {
                yield return update;
            }
        }
    }
}
