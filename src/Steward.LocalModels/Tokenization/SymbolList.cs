namespace Steward.LocalModels.Tokenization;

/// <summary>A pair of adjacent symbols that may merge, with the lengths they had when it was queued.</summary>
internal readonly record struct Bigram(int Left, int Right, int LeftLength, int RightLength);

/// <summary>
/// The doubly linked list of contiguous text ranges that both BPE flavours merge. A merged-away symbol keeps
/// length 0, so queued bigrams that no longer apply are recognised and skipped.
/// </summary>
internal sealed class SymbolList
{
    private readonly int[] _start;
    private readonly int[] _length;
    private readonly int[] _previous;
    private readonly int[] _next;

    private SymbolList(int capacity)
    {
        _start = new int[capacity];
        _length = new int[capacity];
        _previous = new int[capacity];
        _next = new int[capacity];
    }

    public int Count { get; private set; }

    /// <summary>One symbol per Unicode code point (a surrogate pair stays together).</summary>
    public static SymbolList FromCodePoints(ReadOnlySpan<char> text)
    {
        var list = new SymbolList(text.Length);
        for (var i = 0; i < text.Length;)
        {
            var width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            list.Add(i, width);
            i += width;
        }

        return list;
    }

    /// <summary>One symbol per char (byte-level BPE, where every char stands for one byte).</summary>
    public static SymbolList FromChars(int length)
    {
        var list = new SymbolList(length);
        for (var i = 0; i < length; i++)
        {
            list.Add(i, 1);
        }

        return list;
    }

    public int Start(int i) => _start[i];

    public int Length(int i) => _length[i];

    public int Previous(int i) => _previous[i];

    public int Next(int i) => _next[i];

    public bool StillAdjacent(int left, int right, int leftLength, int rightLength) =>
        _length[left] == leftLength && _length[right] == rightLength && leftLength > 0 && rightLength > 0
        && _next[left] == right;

    public void Merge(int left, int right)
    {
        _length[left] += _length[right];
        _length[right] = 0;
        _next[left] = _next[right];
        if (_next[right] >= 0)
        {
            _previous[_next[right]] = left;
        }
    }

    private void Add(int start, int length)
    {
        var i = Count++;
        _start[i] = start;
        _length[i] = length;
        _previous[i] = i - 1;
        _next[i] = -1;
        if (i > 0)
        {
            _next[i - 1] = i;
        }
    }
}
