namespace Steward.LocalModels.Engine.Generation;

/// <summary>
/// Token-level generation over one <see cref="TransformerModel"/>: prompt processing (reusing the KV cache for a
/// prompt prefix shared with the previous generation), then sampling until a stop token, the token limit or the
/// end of the context. Not thread-safe: callers serialise generations (LocalChatClient does, with a semaphore).
/// </summary>
internal sealed class TokenGenerator
{
    private readonly TransformerModel _model;
    private readonly List<int> _cached = [];

    public TokenGenerator(TransformerModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
    }

    public TransformerModel Model => _model;

    /// <summary>
    /// Yields generated token ids one at a time; the stop token that ends a generation is not yielded.
    /// Cancellation is checked before each token and between prompt batches.
    /// </summary>
    /// <exception cref="ContextWindowExceededException">The prompt plus <see cref="GenerationOptions.MaxTokens"/> does not fit.</exception>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, GenerationOptions options, GenerationResult result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(result);
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        }

        var context = _model.ContextLength;
        if (prompt.Count >= context || (options.MaxTokens is { } max && prompt.Count + max > context))
        {
            throw new ContextWindowExceededException(prompt.Count, options.MaxTokens ?? 0, context);
        }

        foreach (var id in prompt)
        {
            if ((uint)id >= (uint)_model.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Token id outside the vocabulary of {_model.VocabSize}.");
            }
        }

        return Run(prompt, options, result, cancellationToken);
    }

    private IEnumerable<int> Run(IReadOnlyList<int> prompt, GenerationOptions options, GenerationResult result, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        result.PromptTokens = prompt.Count;
        result.GeneratedTokens = 0;
        result.Finish = GenerationFinish.None;
        var limit = options.MaxTokens ?? (_model.ContextLength - prompt.Count);

        // Reuse the cached prefix, but always run at least the last prompt token to get fresh logits.
        var reuse = 0;
        while (reuse < _cached.Count && reuse < prompt.Count - 1 && _cached[reuse] == prompt[reuse])
        {
            reuse++;
        }

        _cached.RemoveRange(reuse, _cached.Count - reuse);
        result.ReusedPromptTokens = reuse;
        var history = new List<int>(prompt);
        var sampler = new Sampler(options.Sampling);
        var pending = prompt.Skip(reuse).ToArray();
        try
        {
            var logits = new float[_model.VocabSize];
            _model.Forward(pending, reuse, cancellationToken).CopyTo(logits);
            _cached.AddRange(pending);
            while (true)
            {
                if (result.GeneratedTokens >= limit)
                {
                    result.Finish = options.MaxTokens is null ? GenerationFinish.ContextFull : GenerationFinish.MaxTokens;
                    yield break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                options.Constraint?.Mask(logits, limit - result.GeneratedTokens);
                var next = sampler.Sample(logits, history);
                if (options.StopTokens.Contains(next))
                {
                    result.Finish = GenerationFinish.StopToken;
                    yield break;
                }

                options.Constraint?.Accept(next);
                history.Add(next);
                result.GeneratedTokens++;
                yield return next;
                if (options.Constraint is { IsComplete: true })
                {
                    // The constrained output is whole: nothing may follow, so the turn ends as if the model stopped.
                    result.Finish = GenerationFinish.StopToken;
                    yield break;
                }
                if (result.GeneratedTokens >= limit)
                {
                    // The last token is not fed back: nothing would read its logits.
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var position = _cached.Count;
                _model.Forward([next], position, cancellationToken).CopyTo(logits);
                _cached.Add(next);
            }
        }
        finally
        {
            if (result.Finish == GenerationFinish.None)
            {
                result.Finish = GenerationFinish.Stopped;
            }
        }
    }

    /// <summary>Forgets the cached prefix (the next generation processes its whole prompt).</summary>
    public void Reset() => _cached.Clear();
}
