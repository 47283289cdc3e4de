namespace Steward.LocalModels.Engine.Generation;

/// <summary>
/// Token-level generation in one slot of a <see cref="TransformerModel"/>: prompt processing (reusing the slot's KV
/// cache for a prompt prefix shared with its previous generation), then sampling until a stop token, the token limit
/// or the end of the context. <see cref="Generate"/> runs the model itself (one caller at a time per model);
/// <see cref="GenerationScheduler"/> drives the same steps (<see cref="Begin"/>) for several slots at once.
/// </summary>
internal sealed class TokenGenerator
{
    private readonly TransformerModel _model;
    private readonly List<int> _cached = [];

    /// <summary>A generator for <paramref name="slot"/> of <paramref name="model"/>.</summary>
    public TokenGenerator(TransformerModel model, int slot = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, model.Slots);
        _model = model;
        Slot = slot;
    }

    public TransformerModel Model => _model;

    public int Slot { get; }

    /// <summary>How many leading tokens of <paramref name="prompt"/> this slot's cache already holds.</summary>
    public int CachedPrefix(IReadOnlyList<int> prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var n = 0;
        while (n < _cached.Count && n < prompt.Count && _cached[n] == prompt[n])
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Yields generated token ids one at a time; the stop token that ends a generation is not yielded.
    /// Cancellation is checked before each token and between prompt batches.
    /// </summary>
    /// <exception cref="ContextWindowExceededException">The prompt plus <see cref="GenerationOptions.MaxTokens"/> does not fit.</exception>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, GenerationOptions options, GenerationResult result, CancellationToken cancellationToken = default)
    {
        var sequence = Begin(prompt, options, result);
        return Run(sequence, cancellationToken);
    }

    /// <summary>
    /// Checks <paramref name="prompt"/> and <paramref name="options"/> against the model and starts a generation whose
    /// steps the caller drives: run <see cref="GenerationSequence.Pending"/>, then alternately sample and feed.
    /// </summary>
    /// <exception cref="ContextWindowExceededException">The prompt plus <see cref="GenerationOptions.MaxTokens"/> does not fit.</exception>
    public GenerationSequence Begin(IReadOnlyList<int> prompt, GenerationOptions options, GenerationResult result)
    {
        Validate(_model, prompt, options);
        ArgumentNullException.ThrowIfNull(result);

        // Reuse the cached prefix, but always run at least the last prompt token to get fresh logits.
        var reuse = Math.Min(CachedPrefix(prompt), prompt.Count - 1);
        _cached.RemoveRange(reuse, _cached.Count - reuse);
        return new GenerationSequence(this, prompt, reuse, options, result);
    }

    /// <summary>The checks <see cref="Begin"/> makes, for callers that want them before waiting for a slot.</summary>
    public static void Validate(TransformerModel model, IReadOnlyList<int> prompt, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        }

        var context = model.ContextLength;
        if (prompt.Count >= context || (options.MaxTokens is { } max && prompt.Count + max > context))
        {
            throw new ContextWindowExceededException(prompt.Count, options.MaxTokens ?? 0, context);
        }

        foreach (var id in prompt)
        {
            if ((uint)id >= (uint)model.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Token id outside the vocabulary of {model.VocabSize}.");
            }
        }
    }

    private IEnumerable<int> Run(GenerationSequence sequence, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            _model.Forward(Slot, sequence.Pending, sequence.Start, cancellationToken).CopyTo(sequence.Logits);
            sequence.PromptDone();
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!sequence.TryNext(out var next))
                {
                    yield break;
                }

                yield return next;
                if (!sequence.NeedsFeed)
                {
                    // The last token is not fed back: nothing would read its logits.
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                _model.Forward(Slot, [next], sequence.Position, cancellationToken).CopyTo(sequence.Logits);
                sequence.Fed(next);
            }
        }
        finally
        {
            sequence.End();
        }
    }

    /// <summary>Forgets the cached prefix (the next generation processes its whole prompt).</summary>
    public void Reset() => _cached.Clear();

    internal void Cache(ReadOnlySpan<int> tokens) => _cached.AddRange(tokens);

    internal int CachedCount => _cached.Count;
}

/// <summary>
/// One generation's state between model steps: the prompt tokens still to run, the latest logits, the sampler and
/// the token history, and its <see cref="GenerationResult"/>. Not thread-safe: one driver at a time.
/// </summary>
internal sealed class GenerationSequence
{
    private readonly TokenGenerator _generator;
    private readonly GenerationOptions _options;
    private readonly Sampler _sampler;
    private readonly List<int> _history;
    private readonly int _limit;

    public GenerationSequence(TokenGenerator generator, IReadOnlyList<int> prompt, int reuse, GenerationOptions options, GenerationResult result)
    {
        _generator = generator;
        _options = options;
        Result = result;
        result.PromptTokens = prompt.Count;
        result.GeneratedTokens = 0;
        result.ReusedPromptTokens = reuse;
        result.Finish = GenerationFinish.None;
        _limit = options.MaxTokens ?? (generator.Model.ContextLength - prompt.Count);
        _history = new List<int>(prompt);
        _sampler = new Sampler(options.Sampling);
        Pending = [.. prompt.Skip(reuse)];
        Start = reuse;
        Logits = new float[generator.Model.VocabSize];
    }

    public GenerationResult Result { get; }

    public int Slot => _generator.Slot;

    /// <summary>Prompt tokens to run (those the slot's cache does not hold), from position <see cref="Start"/>.</summary>
    public int[] Pending { get; }

    public int Start { get; }

    /// <summary>The logits of the last token run; the driver writes them, <see cref="TryNext"/> samples from them.</summary>
    public float[] Logits { get; }

    /// <summary>The position the next fed token takes.</summary>
    public int Position => _generator.CachedCount;

    /// <summary>Whether the token just sampled is to be run (false once the limit is reached).</summary>
    public bool NeedsFeed => Result.GeneratedTokens < _limit && Result.Finish == GenerationFinish.None;

    /// <summary>The prompt has been run: its tokens are in the slot's cache.</summary>
    public void PromptDone() => _generator.Cache(Pending);

    /// <summary><paramref name="token"/> has been run at <see cref="Position"/>.</summary>
    public void Fed(int token) => _generator.Cache([token]);

    /// <summary>Samples the next token from <see cref="Logits"/>; false (and the finish reason set) when the generation ends.</summary>
    public bool TryNext(out int next)
    {
        next = -1;
        if (Result.Finish != GenerationFinish.None)
        {
            return false;
        }

        if (Result.GeneratedTokens >= _limit)
        {
            Result.Finish = _options.MaxTokens is null ? GenerationFinish.ContextFull : GenerationFinish.MaxTokens;
            return false;
        }

        _options.Constraint?.Mask(Logits, _limit - Result.GeneratedTokens);
        next = _sampler.Sample(Logits, _history);
        if (_options.StopTokens.Contains(next))
        {
            Result.Finish = GenerationFinish.StopToken;
            return false;
        }

        _options.Constraint?.Accept(next);
        _history.Add(next);
        Result.GeneratedTokens++;
        if (_options.Constraint is { IsComplete: true })
        {
            // The constrained output is whole: nothing may follow, so the turn ends as if the model stopped.
            Result.Finish = GenerationFinish.StopToken;
        }

        return true;
    }

    /// <summary>Marks a generation that ended without a reason of its own (cancelled, abandoned, failed) as stopped.</summary>
    public void End()
    {
        if (Result.Finish == GenerationFinish.None)
        {
            Result.Finish = GenerationFinish.Stopped;
        }
    }
}
