using System.Collections.Frozen;
using System.Text;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// What SentencePiece and byte-level BPE share: the vocabulary, llama.cpp's special-token partitioning,
/// end-of-generation ids and byte-exact decoding. Subclasses encode runs of ordinary text.
/// </summary>
internal abstract class VocabularyTokenizer : ITextTokenizer
{
    // Chat-turn terminators llama.cpp also treats as end of generation when a model declares them.
    private static readonly string[] EndOfGenerationTexts =
    [
        "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "<end_of_utterance>",
    ];

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly (string Text, int Id, bool AlwaysParsed)[] _specialTokens;
    private readonly FrozenSet<int> _endOfGeneration;
    private readonly byte[][] _pieceBytes;

    protected VocabularyTokenizer(TokenizerSpec spec, bool addBosByDefault)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Tokens.Count == 0)
        {
            throw new UnsupportedTokenizerException("The tokenizer vocabulary is empty.");
        }

        if (spec.TokenTypes is { } types && types.Count != spec.Tokens.Count)
        {
            throw new UnsupportedTokenizerException(
                $"tokenizer.ggml.token_type has {types.Count} entries but the vocabulary has {spec.Tokens.Count} tokens.");
        }

        Spec = spec;
        _tokens = [.. spec.Tokens];
        _tokenToId = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (var i = 0; i < _tokens.Length; i++)
        {
            // Later duplicates win, as in llama.cpp's token_to_id map.
            _tokenToId[_tokens[i]] = i;
        }

        _lookup = _tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();

        // Longest first so "<|im_start|>" wins over a shorter special token that is its prefix.
        _specialTokens = [.. Enumerable.Range(0, _tokens.Length)
            .Where(i => _tokens[i].Length > 0 && spec.GetTokenType(i) is TokenType.Control or TokenType.UserDefined or TokenType.Unknown)
            .Select(i => (_tokens[i], i, spec.GetTokenType(i) == TokenType.UserDefined))
            .OrderByDescending(t => t.Item1.Length)
            .ThenBy(t => t.i)];

        var eog = new HashSet<int>();
        if (spec.EosId is { } eos)
        {
            eog.Add(eos);
        }

        if (spec.EotId is { } eot)
        {
            eog.Add(eot);
        }

        foreach (var text in EndOfGenerationTexts)
        {
            if (_tokenToId.TryGetValue(text, out var id) && spec.GetTokenType(id) != TokenType.Normal)
            {
                eog.Add(id);
            }
        }

        _endOfGeneration = eog.ToFrozenSet();
        AddBos = (spec.AddBosToken ?? addBosByDefault) && spec.BosId is not null;
        _pieceBytes = new byte[_tokens.Length][];
    }

    protected TokenizerSpec Spec { get; }

    public int VocabularySize => _tokens.Length;

    public int? BosId => Spec.BosId;

    public int? EosId => Spec.EosId;

    public bool AddBos { get; }

    /// <summary>Whether <see cref="Decode"/> drops the one space SentencePiece's dummy prefix put in front.</summary>
    protected abstract bool StripLeadingSpaceOnDecode { get; }

    public IReadOnlyList<int> Encode(string text, bool addBos, bool parseSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 2);
        if (addBos && Spec.BosId is { } bos)
        {
            output.Add(bos);
        }

        // llama.cpp treats the start of the text like a preceding special token (SentencePiece adds its dummy prefix).
        var previousWasSpecial = true;
        foreach (var fragment in Partition(text, parseSpecialTokens))
        {
            if (fragment.TokenId >= 0)
            {
                output.Add(fragment.TokenId);
                previousWasSpecial = true;
            }
            else
            {
                EncodeText(text.AsSpan(fragment.Start, fragment.Length), previousWasSpecial, output);
                previousWasSpecial = false;
            }
        }

        if (addBos && Spec.AddEosToken == true && Spec.EosId is { } eos)
        {
            output.Add(eos);
        }

        return output;
    }

    public int CountTokens(string text) => Encode(text, addBos: false, parseSpecialTokens: true).Count;

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        var first = true;
        foreach (var id in ids)
        {
            var piece = GetPieceBytes(id);
            if (piece.Length == 0)
            {
                continue;
            }

            var skip = first && StripLeadingSpaceOnDecode && piece[0] == (byte)' ' ? 1 : 0;
            first = false;
            for (var i = skip; i < piece.Length; i++)
            {
                bytes.Add(piece[i]);
            }
        }

        return Utf8.GetString([.. bytes]);
    }

    public TokenStreamDecoder CreateStreamDecoder(bool stripLeadingSpace = false) =>
        new(id => GetPieceBytes(id), stripLeadingSpace && StripLeadingSpaceOnDecode);

    public bool IsEndOfGeneration(int id) => _endOfGeneration.Contains(id);

    public string? GetTokenText(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;

    public int? FindToken(string text) => _tokenToId.TryGetValue(text, out var id) ? id : null;

    public ReadOnlyMemory<byte> GetTokenBytes(int id) => GetPieceBytes(id);

    /// <summary>The id of a vocabulary entry equal to <paramref name="text"/>, or -1.</summary>
    protected int Lookup(ReadOnlySpan<char> text) => _lookup.TryGetValue(text, out var id) ? id : -1;

    protected string TokenText(int id) => _tokens[id];

    /// <summary>Encodes one run of text with no special tokens in it.</summary>
    protected abstract void EncodeText(ReadOnlySpan<char> text, bool afterSpecial, List<int> output);

    /// <summary>The bytes a token stands for when decoded (empty for control tokens).</summary>
    protected abstract byte[] ComputePieceBytes(int id, TokenType type);

    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    private byte[] GetPieceBytes(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _tokens.Length);

        // Benign race: two threads may compute the same immutable array.
        return _pieceBytes[id] ??= ComputePieceBytes(id, Spec.GetTokenType(id));
    }

    private List<Fragment> Partition(string text, bool parseSpecialTokens)
    {
        var fragments = new List<Fragment> { new(-1, 0, text.Length) };
        foreach (var (special, id, alwaysParsed) in _specialTokens)
        {
            if (!parseSpecialTokens && !alwaysParsed)
            {
                continue;
            }

            List<Fragment>? next = null;
            for (var f = 0; f < fragments.Count; f++)
            {
                var fragment = fragments[f];
                var found = fragment.TokenId < 0
                    ? text.AsSpan(fragment.Start, fragment.Length).IndexOf(special, StringComparison.Ordinal)
                    : -1;
                if (found < 0)
                {
                    next?.Add(fragment);
                    continue;
                }

                next ??= fragments.GetRange(0, f);
                var start = fragment.Start;
                var end = fragment.Start + fragment.Length;
                while (found >= 0)
                {
                    var at = start + found;
                    if (at > start)
                    {
                        next.Add(new Fragment(-1, start, at - start));
                    }

                    next.Add(new Fragment(id, at, special.Length));
                    start = at + special.Length;
                    found = text.AsSpan(start, end - start).IndexOf(special, StringComparison.Ordinal);
                }

                if (end > start)
                {
                    next.Add(new Fragment(-1, start, end - start));
                }
            }

            if (next is not null)
            {
                fragments = next;
            }
        }

        return fragments;
    }

    private readonly record struct Fragment(int TokenId, int Start, int Length);
}
