namespace Steward.LocalModels.Engine.Generation;

/// <summary>
/// Picks the next token from logits. Holds a seeded random generator and scratch buffers, so one instance per
/// generation; not thread-safe.
/// </summary>
internal sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private int[] _ids = [];
    private float[] _values = [];

    public Sampler(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
#pragma warning disable CA5394 // sampling needs reproducibility from a seed, not cryptographic randomness
        _random = options.Seed is { } seed ? new Random(unchecked((int)seed ^ (int)(seed >> 32))) : new Random();
#pragma warning restore CA5394
    }

    /// <param name="logits">The model's logits; modified in place by the repetition penalty.</param>
    /// <param name="history">Tokens so far (prompt and generated), for the repetition penalty.</param>
    public int Sample(Span<float> logits, IReadOnlyList<int> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var o = _options;
        if (o.RepetitionPenalty != 1f && o.RepeatLastN != 0)
        {
            var from = o.RepeatLastN < 0 ? 0 : Math.Max(0, history.Count - o.RepeatLastN);
            var seen = new HashSet<int>();
            for (var i = from; i < history.Count; i++)
            {
                var id = history[i];
                if ((uint)id < (uint)logits.Length && seen.Add(id))
                {
                    logits[id] = logits[id] > 0 ? logits[id] / o.RepetitionPenalty : logits[id] * o.RepetitionPenalty;
                }
            }
        }

        if (o.Temperature <= 0)
        {
            return ArgMax(logits);
        }

        // Candidates sorted by logit, descending (top-k first, so the sort is usually small).
        var n = logits.Length;
        if (_ids.Length < n)
        {
            _ids = new int[n];
            _values = new float[n];
        }

        for (var i = 0; i < n; i++)
        {
            _ids[i] = i;
            _values[i] = logits[i];
        }

        Array.Sort(_values, _ids, 0, n, DescendingComparer.Instance);
        var count = o.TopK > 0 ? Math.Min(o.TopK, n) : n;

        // Tokens a constraint masked out (negative infinity) are never candidates.
        while (count > 1 && float.IsNegativeInfinity(_values[count - 1]))
        {
            count--;
        }

        // Probabilities at temperature 1 for top-p/min-p, as llama.cpp's samplers see them before temp.
        var max = _values[0];
        double sum = 0;
        var probs = new double[count];
        for (var i = 0; i < count; i++)
        {
            probs[i] = Math.Exp(_values[i] - max);
            sum += probs[i];
        }

        if (o.TopP < 1f)
        {
            double cumulative = 0;
            for (var i = 0; i < count; i++)
            {
                cumulative += probs[i] / sum;
                if (cumulative >= o.TopP)
                {
                    count = i + 1;
                    break;
                }
            }
        }

        if (o.MinP > 0f)
        {
            var threshold = probs[0] * o.MinP;
            var keep = 1;
            while (keep < count && probs[keep] >= threshold)
            {
                keep++;
            }

            count = keep;
        }

        double total = 0;
        var weights = new double[count];
        for (var i = 0; i < count; i++)
        {
            weights[i] = Math.Exp((_values[i] - max) / o.Temperature);
            total += weights[i];
        }

#pragma warning disable CA5394 // see constructor
        var r = _random.NextDouble() * total;
#pragma warning restore CA5394
        for (var i = 0; i < count; i++)
        {
            r -= weights[i];
            if (r <= 0)
            {
                return _ids[i];
            }
        }

        return _ids[count - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    private sealed class DescendingComparer : IComparer<float>
    {
        public static readonly DescendingComparer Instance = new();

        public int Compare(float x, float y) => y.CompareTo(x);
    }
}
