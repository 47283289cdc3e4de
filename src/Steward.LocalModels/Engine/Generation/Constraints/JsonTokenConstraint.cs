namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>
/// Constrains generation to a JSON document of a <see cref="JsonGrammar"/>, over the model's real tokens. Before each
/// token, every token whose bytes keep the text a valid prefix is allowed, found by walking the vocabulary trie
/// with the recogniser (a JSON string's plain tokens are allowed in one go); of those, only tokens after which the
/// shortest completion still fits in the remaining budget survive, so the document always closes before the cap.
/// Stop tokens are allowed only once the document is whole. Not thread-safe: one per generation.
/// </summary>
internal sealed class JsonTokenConstraint : ITokenConstraint
{
    private readonly JsonMatcher _matcher;
    private readonly TokenVocabulary _vocabulary;
    private readonly IReadOnlySet<int> _stopTokens;
    private readonly JsonMatchState _state;
    private readonly JsonMatchState[] _scratch;
    private readonly ulong[] _allowed;
    private int _budget;

    /// <exception cref="NotSupportedException">The vocabulary cannot write some byte as a single token, so the cap could not be guaranteed.</exception>
    public JsonTokenConstraint(JsonGrammar grammar, TokenVocabulary vocabulary, IReadOnlySet<int> stopTokens)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(stopTokens);
        var missing = Enumerable.Range(0x20, 0x7F - 0x20).Where(b => vocabulary.SingleByte[b] < 0).ToList();
        if (missing.Count > 0)
        {
            throw new NotSupportedException(
                $"Constrained JSON needs every printable ASCII character as a single token; this model's vocabulary lacks {string.Join(" ", missing.Select(b => $"'{(char)b}'"))}.");
        }

        _matcher = new JsonMatcher(grammar);
        _vocabulary = vocabulary;
        _stopTokens = stopTokens;
        _state = _matcher.Start();
        var longest = vocabulary.Bytes.Max(b => b.Length);
        _scratch = [.. Enumerable.Range(0, longest + 2).Select(_ => new JsonMatchState())];
        _allowed = new ulong[(vocabulary.Size + 63) / 64];
    }

    /// <summary>Tokens the shortest valid document needs (at least this many must be allowed for the output).</summary>
    public int MinimumTokens => _matcher.MinRemaining(_state);

    public bool IsComplete => JsonMatcher.IsComplete(_state);

    public void Mask(Span<float> logits, int remainingTokens)
    {
        Array.Clear(_allowed);
        _budget = remainingTokens - 1;
        var current = _matcher.MinRemaining(_state);
        if (current > remainingTokens)
        {
            throw new InvalidOperationException($"Constrained JSON needs {current} more tokens but {remainingTokens} remain.");
        }

        ref readonly var top = ref _state.Frames[Math.Max(0, _state.Depth - 1)];
        var inPlainString = _state.Depth > 0
            && _matcher.Grammar.Nodes[top.Node] is { Kind: JsonNodeKind.String, MaxChars: int.MaxValue }
            && top.Phase == 1 && top.Pending == 0 && current <= _budget;
        if (inPlainString)
        {
            // Plain content leaves a string open and never lengthens the shortest completion.
            foreach (var id in _vocabulary.Plain)
            {
                _allowed[id >> 6] |= 1UL << id;
            }

            Walk(_vocabulary.Special, 0, _state, 0);
        }
        else
        {
            Walk(_vocabulary.All, 0, _state, 0);
        }

        var accepting = _matcher.IsAccepting(_state);
        foreach (var stop in _stopTokens)
        {
            if ((uint)stop < (uint)_vocabulary.Size)
            {
                _allowed[stop >> 6] = accepting ? _allowed[stop >> 6] | (1UL << stop) : _allowed[stop >> 6] & ~(1UL << stop);
            }
        }

        var anyAllowed = false;
        for (var word = 0; word < _allowed.Length; word++)
        {
            var bits = _allowed[word];
            anyAllowed |= bits != 0;
            if (bits == ulong.MaxValue)
            {
                continue;
            }

            var end = Math.Min(logits.Length, (word + 1) * 64);
            for (var id = word * 64; id < end; id++)
            {
                if (((bits >> id) & 1) == 0)
                {
                    logits[id] = float.NegativeInfinity;
                }
            }
        }

        // Ids past the vocabulary (a model whose output is wider than its tokenizer) are never sampled.
        logits[Math.Min(logits.Length, _vocabulary.Size)..].Fill(float.NegativeInfinity);
        if (!anyAllowed)
        {
            throw new InvalidOperationException("Constrained JSON left no token to sample (the grammar has no continuation).");
        }
    }

    private void Walk(TokenVocabulary.Trie trie, int node, JsonMatchState state, int depth)
    {
        for (var child = trie.FirstChild[node]; child >= 0; child = trie.NextSibling[child])
        {
            var next = _scratch[depth];
            state.CopyTo(next);
            if (!_matcher.Step(next, trie.Label[child]))
            {
                continue;
            }

            var token = trie.FirstToken[child];
            if (token >= 0 && _matcher.MinRemaining(next) <= _budget)
            {
                for (; token >= 0; token = trie.NextToken[token])
                {
                    _allowed[token >> 6] |= 1UL << token;
                }
            }

            if (trie.FirstChild[child] >= 0)
            {
                Walk(trie, child, next, depth + 1);
            }
        }
    }

    public void Accept(int token)
    {
        if (_stopTokens.Contains(token))
        {
            return;
        }

        foreach (var b in _vocabulary.Bytes[token])
        {
            if (!_matcher.Step(_state, b))
            {
                throw new InvalidOperationException($"Token {token} does not continue the constrained JSON; it should have been masked.");
            }
        }
    }
}
