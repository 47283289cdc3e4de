using System.Text;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// Byte-level BPE (GGUF <c>tokenizer.ggml.model = gpt2</c>: Llama 3, Qwen, SmolLM, Phi-2...), a port of llama.cpp's
/// <c>llm_tokenizer_bpe</c>: the text is split into words by the pre-tokenizer <c>tokenizer.ggml.pre</c> names, each
/// word's UTF-8 bytes are mapped to GPT-2's byte characters, and adjacent symbols merge by merge rank (lowest
/// first, leftmost on ties).
/// </summary>
internal sealed class ByteLevelBpeTokenizer : VocabularyTokenizer
{
    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _rankLookup;
    private readonly PreTokenizer _preTokenizer;

    public ByteLevelBpeTokenizer(TokenizerSpec spec)
        : this(spec, PreTokenizer.ForName(spec?.PreTokenizer))
    {
    }

    private ByteLevelBpeTokenizer(TokenizerSpec spec, PreTokenizer preTokenizer)
        : base(spec, preTokenizer.AddBosByDefault)
    {
        _preTokenizer = preTokenizer;
        var merges = spec.Merges ?? throw new UnsupportedTokenizerException(
            "A byte-level BPE vocabulary needs tokenizer.ggml.merges, and this model has none.");
        _ranks = new Dictionary<string, int>(merges.Count, StringComparer.Ordinal);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var merge = merges[rank];
            var space = merge.IndexOf(' ', 1);
            if (space < 0)
            {
                throw new UnsupportedTokenizerException($"BPE merge {rank} ('{merge}') is not two pieces separated by a space.");
            }

            // First occurrence keeps the lowest rank.
            _ranks.TryAdd(merge, rank);
        }

        _rankLookup = _ranks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The pre-tokenizer family in use (after resolving aliases).</summary>
    public string PreTokenizerName => _preTokenizer.Name;

    protected override bool StripLeadingSpaceOnDecode => false;

    protected override void EncodeText(ReadOnlySpan<char> text, bool afterSpecial, List<int> output)
    {
        foreach (var word in _preTokenizer.Split(text))
        {
            EncodeWord(word, output);
        }
    }

    protected override byte[] ComputePieceBytes(int id, TokenType type)
    {
        var text = TokenText(id);
        switch (type)
        {
            case TokenType.Control or TokenType.Unused:
                return [];
            case TokenType.UserDefined:
                return Encoding.UTF8.GetBytes(text);
            default:
                var bytes = new List<byte>(text.Length);
                foreach (var c in text)
                {
                    if (ByteLevelEncoding.TryGetByte(c, out var b))
                    {
                        bytes.Add(b);
                    }
                    else
                    {
                        // Not a byte character (a hand-added token): keep its own UTF-8.
                        bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                    }
                }

                return [.. bytes];
        }
    }

    private void EncodeWord(string word, List<int> output)
    {
        var utf8 = Encoding.UTF8.GetBytes(word);
        var mapped = new char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            mapped[i] = ByteLevelEncoding.ToChar(utf8[i]);
        }

        if (_preTokenizer.IgnoreMerges && Lookup(mapped) is var whole and >= 0)
        {
            output.Add(whole);
            return;
        }

        var symbols = SymbolList.FromChars(mapped.Length);
        var queue = new PriorityQueue<Bigram, (int Rank, int Left)>();
        for (var i = 1; i < symbols.Count; i++)
        {
            TryAddBigram(mapped, symbols, queue, i - 1, i);
        }

        while (queue.TryDequeue(out var bigram, out _))
        {
            if (!symbols.StillAdjacent(bigram.Left, bigram.Right, bigram.LeftLength, bigram.RightLength))
            {
                continue;
            }

            symbols.Merge(bigram.Left, bigram.Right);
            TryAddBigram(mapped, symbols, queue, symbols.Previous(bigram.Left), bigram.Left);
            TryAddBigram(mapped, symbols, queue, bigram.Left, symbols.Next(bigram.Left));
        }

        for (var i = 0; i >= 0 && symbols.Count > 0; i = symbols.Next(i))
        {
            var piece = mapped.AsSpan(symbols.Start(i), symbols.Length(i));
            var id = Lookup(piece);
            if (id >= 0)
            {
                output.Add(id);
                continue;
            }

            // A piece the vocabulary lacks: fall back to its single byte characters.
            foreach (var c in piece)
            {
                var single = Lookup([c]);
                if (single >= 0)
                {
                    output.Add(single);
                }
                else if (Spec.UnknownId is { } unk)
                {
                    output.Add(unk);
                }
            }
        }
    }

    private void TryAddBigram(char[] mapped, SymbolList symbols, PriorityQueue<Bigram, (int, int)> queue, int left, int right)
    {
        if (left < 0 || right < 0)
        {
            return;
        }

        var leftLength = symbols.Length(left);
        var rightLength = symbols.Length(right);
        Span<char> key = leftLength + rightLength + 1 <= 256 ? stackalloc char[leftLength + rightLength + 1] : new char[leftLength + rightLength + 1];
        mapped.AsSpan(symbols.Start(left), leftLength).CopyTo(key);
        key[leftLength] = ' ';
        mapped.AsSpan(symbols.Start(right), rightLength).CopyTo(key[(leftLength + 1)..]);
        if (_rankLookup.TryGetValue(key, out var rank))
        {
            // Tuple order gives lowest rank first, then the leftmost pair.
            queue.Enqueue(new Bigram(left, right, leftLength, rightLength), (rank, left));
        }
    }
}
