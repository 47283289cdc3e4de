using System.Globalization;
using System.Text;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// SentencePiece BPE (GGUF <c>tokenizer.ggml.model = llama</c>), a port of llama.cpp's <c>llm_tokenizer_spm</c>:
/// spaces become U+2581, a dummy-prefix space goes in front of each run of text that starts the input or follows
/// a special token, then adjacent pieces are merged greedily by vocabulary score (highest first, leftmost on ties),
/// and anything left that is not in the vocabulary falls back to <c>&lt;0xXX&gt;</c> byte tokens.
/// </summary>
/// <remarks>
/// Written by hand rather than through Microsoft.ML.Tokenizers' LlamaTokenizer so that encoding, byte fallback,
/// special-token splitting and streaming decode all follow llama.cpp exactly and share one code path with BPE.
/// </remarks>
internal sealed class SentencePieceTokenizer : VocabularyTokenizer
{
    private const char SpaceMarker = '\u2581';

    private readonly float[] _scores;
    private readonly int[] _byteTokens = new int[256];
    private readonly bool _addSpacePrefix;

    public SentencePieceTokenizer(TokenizerSpec spec)
        : base(spec, addBosByDefault: true)
    {
        if (spec.Scores is { } scores && scores.Count != spec.Tokens.Count)
        {
            throw new UnsupportedTokenizerException(
                $"A SentencePiece vocabulary needs one score per token (tokenizer.ggml.scores has {scores.Count}, the vocabulary {spec.Tokens.Count}).");
        }

        // No scores at all: every merge ties and the leftmost wins, as in llama.cpp (which reads them as 0).
        _scores = spec.Scores is null ? new float[spec.Tokens.Count] : [.. spec.Scores];
        _addSpacePrefix = spec.AddSpacePrefix ?? true;
        for (var b = 0; b < 256; b++)
        {
            _byteTokens[b] = Lookup(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"));
        }
    }

    protected override bool StripLeadingSpaceOnDecode => _addSpacePrefix;

    protected override void EncodeText(ReadOnlySpan<char> text, bool afterSpecial, List<int> output)
    {
        var prefix = _addSpacePrefix && afterSpecial;
        var length = text.Length + (prefix ? 1 : 0);
        if (length == 0)
        {
            return;
        }

        var buffer = new char[length];
        if (prefix)
        {
            buffer[0] = ' ';
        }

        text.CopyTo(buffer.AsSpan(prefix ? 1 : 0));
        buffer.AsSpan().Replace(' ', SpaceMarker);

        var symbols = SymbolList.FromCodePoints(buffer);
        var queue = new PriorityQueue<Bigram, (float Score, int Left)>(SpmOrder.Instance);
        for (var i = 1; i < symbols.Count; i++)
        {
            TryAddBigram(buffer, symbols, queue, i - 1, i);
        }

        while (queue.TryDequeue(out var bigram, out _))
        {
            if (!symbols.StillAdjacent(bigram.Left, bigram.Right, bigram.LeftLength, bigram.RightLength))
            {
                continue;
            }

            symbols.Merge(bigram.Left, bigram.Right);
            TryAddBigram(buffer, symbols, queue, symbols.Previous(bigram.Left), bigram.Left);
            TryAddBigram(buffer, symbols, queue, bigram.Left, symbols.Next(bigram.Left));
        }

        for (var i = 0; i >= 0; i = symbols.Next(i))
        {
            var piece = buffer.AsSpan(symbols.Start(i), symbols.Length(i));
            var id = Lookup(piece);
            if (id >= 0)
            {
                output.Add(id);
                continue;
            }

            AddByteFallback(piece, output);
        }
    }

    protected override byte[] ComputePieceBytes(int id, TokenType type)
    {
        var text = TokenText(id);
        return type switch
        {
            TokenType.Control or TokenType.Unused => [],
            TokenType.Unknown => "\u2585"u8.ToArray(),
            TokenType.Byte when TryParseByteToken(text, out var b) => [b],
            TokenType.UserDefined => Encoding.UTF8.GetBytes(text),
            _ => Encoding.UTF8.GetBytes(text.Replace(SpaceMarker, ' ')),
        };
    }

    private static bool TryParseByteToken(string text, out byte value)
    {
        value = 0;
        return text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
            && byte.TryParse(text.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private void AddByteFallback(ReadOnlySpan<char> piece, List<int> output)
    {
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(piece.Length)];
        var count = Encoding.UTF8.GetBytes(piece, bytes);
        foreach (var b in bytes[..count])
        {
            var id = _byteTokens[b];
            if (id >= 0)
            {
                output.Add(id);
            }
            else if (Spec.UnknownId is { } unk)
            {
                output.Add(unk);
            }
        }
    }

    private void TryAddBigram(char[] buffer, SymbolList symbols, PriorityQueue<Bigram, (float, int)> queue, int left, int right)
    {
        if (left < 0 || right < 0)
        {
            return;
        }

        var leftLength = symbols.Length(left);
        var rightLength = symbols.Length(right);
        var id = Lookup(buffer.AsSpan(symbols.Start(left), leftLength + rightLength));
        if (id < 0)
        {
            return;
        }

        queue.Enqueue(new Bigram(left, right, leftLength, rightLength), (_scores[id], left));
    }

    // Highest score first; on equal scores the leftmost pair, as llama.cpp's comparator orders them.
    private sealed class SpmOrder : IComparer<(float Score, int Left)>
    {
        public static readonly SpmOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            var byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }
}
