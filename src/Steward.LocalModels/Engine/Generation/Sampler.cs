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
    private double[] _probs = [];
    private double[] _weights = [];

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

        // Candidates sorted by logit, descending: with top-k only the k best are selected and sorted (one pass over the
        // vocabulary, not a sort of it, which for a 150k vocabulary cost more than the token's forward pass).
        var n = logits.Length;
        var count = o.TopK > 0 && o.TopK < n ? SelectTop(logits, o.TopK) : SortAll(logits);

        // Tokens a constraint masked out (negative infinity) are never candidates.
        while (count > 1 && float.IsNegativeInfinity(_values[count - 1]))
        {
            count--;
        }

        // Probabilities at temperature 1 for top-p/min-p, as llama.cpp's samplers see them before temp.
        var max = _values[0];
        double sum = 0;
        var probs = Scratch(ref _probs, count);
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
        var weights = Scratch(ref _weights, count);
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

    /// <summary>
    /// The <paramref name="k"/> highest logits into _values/_ids, highest first (ties: lower id first): a min-heap of k
    /// candidates that most logits fail to enter with one comparison.
    /// </summary>
    private int SelectTop(ReadOnlySpan<float> logits, int k)
    {
        Grow(k);
        var values = _values;
        var ids = _ids;
        for (var i = 0; i < k; i++)
        {
            values[i] = logits[i];
            ids[i] = i;
            SiftUp(values, ids, i);
        }

        for (var i = k; i < logits.Length; i++)
        {
            // A later id never displaces an equal value: lower ids win ties, as in the full sort.
            if (logits[i] > values[0])
            {
                values[0] = logits[i];
                ids[0] = i;
                SiftDown(values, ids, k);
            }
        }

        Array.Sort(values, ids, 0, k, DescendingComparer.Instance);
        SortTies(k);
        return k;
    }

    /// <summary>Every logit into _values/_ids, highest first (ties: lower id first).</summary>
    private int SortAll(ReadOnlySpan<float> logits)
    {
        var n = logits.Length;
        Grow(n);
        for (var i = 0; i < n; i++)
        {
            _ids[i] = i;
            _values[i] = -logits[i]; // ascending under the default comparer, which sorts primitive keys fastest
        }

        Array.Sort(_values, _ids, 0, n);
        for (var i = 0; i < n; i++)
        {
            _values[i] = -_values[i];
        }

        SortTies(n);
        return n;
    }

    /// <summary>Orders each run of equal values by id, so the candidates do not depend on the sort's instability.</summary>
    private void SortTies(int n)
    {
        for (var i = 0; i < n;)
        {
            var j = i + 1;
            while (j < n && _values[j] == _values[i])
            {
                j++;
            }

            if (j - i > 1)
            {
                Array.Sort(_ids, i, j - i);
            }

            i = j;
        }
    }

    private void Grow(int n)
    {
        if (_ids.Length < n)
        {
            _ids = new int[n];
            _values = new float[n];
        }
    }

    private static double[] Scratch(ref double[] buffer, int n)
    {
        if (buffer.Length < n)
        {
            buffer = new double[n];
        }

        return buffer;
    }

    /// <summary>Min-heap order on (value, then higher id as smaller): the root is the candidate to drop first.</summary>
    private static bool Below(float[] values, int[] ids, int a, int b) => values[a] < values[b] || (values[a] == values[b] && ids[a] > ids[b]);

    private static void SiftUp(float[] values, int[] ids, int i)
    {
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (!Below(values, ids, i, parent))
            {
                return;
            }

            Swap(values, ids, i, parent);
            i = parent;
        }
    }

    private static void SiftDown(float[] values, int[] ids, int n)
    {
        var i = 0;
        while (true)
        {
            var smallest = i;
            var left = (2 * i) + 1;
            var right = left + 1;
            if (left < n && Below(values, ids, left, smallest))
            {
                smallest = left;
            }

            if (right < n && Below(values, ids, right, smallest))
            {
                smallest = right;
            }

            if (smallest == i)
            {
                return;
            }

            Swap(values, ids, i, smallest);
            i = smallest;
        }
    }

    private static void Swap(float[] values, int[] ids, int a, int b)
    {
        (values[a], values[b]) = (values[b], values[a]);
        (ids[a], ids[b]) = (ids[b], ids[a]);
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
