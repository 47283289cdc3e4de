namespace Steward.LocalModels.Engine.Generation.Constraints;

/// <summary>One open JSON value: which grammar node, and how far into it the text is.</summary>
internal struct JsonFrame
{
    public int Node;
    public int Phase;

    /// <summary>Object: next property; array: items so far; string: characters so far; number: digits in the current part.</summary>
    public int Index;

    /// <summary>Bytes matched in a key or literal; hex digits of a \u escape.</summary>
    public int Pos;

    /// <summary>Candidate keys or literals still matching.</summary>
    public ulong Mask;

    /// <summary>UTF-8 continuation bytes still due in a string.</summary>
    public int Pending;

    /// <summary>A bounded number's fraction digits so far, as an integer (its integer part is in <see cref="Mask"/>).</summary>
    public long Fraction;
}

/// <summary>The text so far as a stack of open values; copied cheaply while exploring tokens.</summary>
internal sealed class JsonMatchState
{
    public JsonFrame[] Frames { get; } = new JsonFrame[JsonMatcher.MaxDepth];

    public int Depth { get; set; }

    /// <summary>Consecutive structural whitespace bytes, capped so a model cannot stall in whitespace.</summary>
    public int Whitespace { get; set; }

    public void CopyTo(JsonMatchState other)
    {
        Array.Copy(Frames, other.Frames, Depth);
        other.Depth = Depth;
        other.Whitespace = Whitespace;
    }
}

/// <summary>
/// A byte-level pushdown recogniser for a <see cref="JsonGrammar"/>: <see cref="Step"/> accepts a byte only if the text
/// stays a prefix of some valid document, and <see cref="MinRemaining"/> gives the fewest bytes that complete it.
/// Numbers are capped at 15 integer and 15 fraction digits, whitespace runs at 20 bytes; strings are checked for
/// well-formed escapes and UTF-8. Stateless apart from the grammar; thread-safe.
/// </summary>
internal sealed class JsonMatcher(JsonGrammar grammar)
{
    public const int MaxDepth = 64;
    private const int MaxWhitespace = 20;
    internal const int MaxDigits = 15;
    private const int MaxExponentDigits = 3;

    private readonly IReadOnlyList<JsonGrammarNode> _nodes = grammar.Nodes;

    private enum Outcome
    {
        Reject,
        Consumed,
        Whitespace,
        Pop,
        PopRefeed,
        PushRefeed,
        ConsumedPush,
        Replace,
    }

    public JsonGrammar Grammar { get; } = grammar;

    public JsonMatchState Start()
    {
        var state = new JsonMatchState { Depth = 1 };
        state.Frames[0] = new JsonFrame { Node = Grammar.Root };
        return state;
    }

    /// <summary>The document is finished: nothing more may follow.</summary>
    public static bool IsComplete(JsonMatchState state) => state.Depth == 0;

    /// <summary>The text so far is a whole document (possibly one that could still grow, like a top-level number).</summary>
    public bool IsAccepting(JsonMatchState state) => state.Depth == 0 || (state.Depth == 1 && CanEnd(state.Frames[0]));

    private bool CanEnd(in JsonFrame frame) => _nodes[frame.Node] switch
    {
        { Kind: JsonNodeKind.Integer or JsonNodeKind.Number, Bounds: { } bounds } =>
            frame.Phase is 2 or 3 or 5 && bounds.Contains(frame.Pos == 1, (long)frame.Mask, frame.Fraction, frame.Phase == 5 ? frame.Index : 0),
        { Kind: JsonNodeKind.Integer or JsonNodeKind.Number } => frame.Phase is 2 or 3 or 5 or 8,
        { Kind: JsonNodeKind.Literals } node => frame.Phase == 1 && HasFullMatch(node.Texts, frame.Mask, frame.Pos),
        _ => false,
    };

    /// <summary>Feeds one byte; false (state unspecified) when no valid document continues this way.</summary>
    public bool Step(JsonMatchState state, byte b)
    {
        while (state.Depth > 0)
        {
            ref var frame = ref state.Frames[state.Depth - 1];
            var node = _nodes[frame.Node];
            var child = -1;
            var childPhase = 0;
            var outcome = node.Kind switch
            {
                JsonNodeKind.String => StepString(ref frame, node, b),
                JsonNodeKind.Integer or JsonNodeKind.Number when node.Bounds is { } bounds => StepBoundedNumber(ref frame, bounds, b),
                JsonNodeKind.Integer or JsonNodeKind.Number => StepNumber(ref frame, node.Kind == JsonNodeKind.Number, b),
                JsonNodeKind.Literals => StepLiterals(ref frame, node, b),
                JsonNodeKind.Object => StepObject(ref frame, node, b, ref child),
                JsonNodeKind.FreeObject => StepFreeObject(ref frame, node, b, ref child, ref childPhase),
                JsonNodeKind.Array => StepArray(ref frame, node, b, ref child),
                JsonNodeKind.Union => StepUnion(node, b, ref child),
                _ => Outcome.Reject,
            };
            switch (outcome)
            {
                case Outcome.Reject:
                    return false;
                case Outcome.Consumed:
                    state.Whitespace = 0;
                    return true;
                case Outcome.Whitespace:
                    if (state.Whitespace >= MaxWhitespace)
                    {
                        return false;
                    }

                    state.Whitespace++;
                    return true;
                case Outcome.Pop:
                    state.Depth--;
                    state.Whitespace = 0;
                    return true;
                case Outcome.PopRefeed:
                    state.Depth--;
                    continue;
                case Outcome.Replace:
                    frame = new JsonFrame { Node = child };
                    continue;
                case Outcome.PushRefeed or Outcome.ConsumedPush:
                    if (state.Depth >= MaxDepth)
                    {
                        return false;
                    }

                    state.Frames[state.Depth++] = new JsonFrame { Node = child, Phase = childPhase };
                    if (outcome == Outcome.ConsumedPush)
                    {
                        state.Whitespace = 0;
                        return true;
                    }

                    continue;
            }
        }

        return false;
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r';

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static Outcome StepString(ref JsonFrame f, JsonGrammarNode node, byte b)
    {
        switch (f.Phase)
        {
            case 0:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (b != (byte)'"')
                {
                    return Outcome.Reject;
                }

                f.Phase = 1;
                return Outcome.Consumed;
            case 1:
                if (f.Pending > 0)
                {
                    if (!Utf8.IsContinuation(f.Pos, b))
                    {
                        return Outcome.Reject;
                    }

                    f.Pos = 0;
                    f.Pending--;
                    return Outcome.Consumed;
                }

                if (b == (byte)'"')
                {
                    return f.Index >= node.MinChars ? Outcome.Pop : Outcome.Reject;
                }

                if (b < 0x20 || f.Index >= node.MaxChars)
                {
                    return Outcome.Reject;
                }

                if (b == (byte)'\\')
                {
                    f.Index++;
                    f.Phase = 2;
                    return Outcome.Consumed;
                }

                var continuation = Utf8.ContinuationBytes(b);
                if (continuation < 0)
                {
                    return Outcome.Reject;
                }

                f.Index++;
                f.Pending = continuation;
                f.Pos = b; // the lead byte bounds the first continuation byte
                return Outcome.Consumed;
            case 2:
                if (b == (byte)'u')
                {
                    f.Phase = 3;
                    f.Pos = 0;
                    return Outcome.Consumed;
                }

                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
                {
                    f.Phase = 1;
                    return Outcome.Consumed;
                }

                return Outcome.Reject;
            default:
                if (!char.IsAsciiHexDigit((char)b))
                {
                    return Outcome.Reject;
                }

                if (++f.Pos == 4)
                {
                    f.Phase = 1;
                }

                return Outcome.Consumed;
        }
    }

    /// <summary>
    /// A number with <c>minimum</c> / <c>maximum</c>: the phases of <see cref="StepNumber"/> (0 start, 1 after '-', 2 in
    /// integer digits, 3 after a lone '0', 4 after the point, 5 in fraction digits; no exponent), with the sign in
    /// <see cref="JsonFrame.Pos"/>, the integer part in <see cref="JsonFrame.Mask"/> and the fraction in
    /// <see cref="JsonFrame.Fraction"/>; a byte is taken only if the number can still end in the range.
    /// </summary>
    private static Outcome StepBoundedNumber(ref JsonFrame f, NumberBounds bounds, byte b)
    {
        var negative = f.Pos == 1;
        switch (f.Phase)
        {
            case 0 when IsWhitespace(b):
                return Outcome.Whitespace;
            case 0 when b == (byte)'-':
                if (bounds.FewestMoreBytes(negative: true, 0, 0) is null)
                {
                    return Outcome.Reject;
                }

                (f.Phase, f.Pos) = (1, 1);
                return Outcome.Consumed;
            case 0 or 1 or 2 when IsDigit(b):
                var integer = ((long)f.Mask * 10) + (b - (byte)'0');
                if (f.Index >= NumberBounds.MaxDigits || bounds.FewestMoreBytes(negative, integer, f.Index + 1) is null)
                {
                    return Outcome.Reject;
                }

                (f.Phase, f.Mask, f.Index) = (integer == 0 ? 3 : 2, (ulong)integer, f.Index + 1);
                return Outcome.Consumed;
            case 2 or 3 when b == (byte)'.' && bounds.Scale > 0:
                if (bounds.FewestMoreFractionBytes(negative, (long)f.Mask, 0, 0) is null)
                {
                    return Outcome.Reject;
                }

                (f.Phase, f.Index, f.Fraction) = (4, 0, 0);
                return Outcome.Consumed;
            case 4 or 5 when IsDigit(b):
                var fraction = (f.Fraction * 10) + (b - (byte)'0');
                if (f.Index >= bounds.Scale || bounds.FewestMoreFractionBytes(negative, (long)f.Mask, fraction, f.Index + 1) is null)
                {
                    return Outcome.Reject;
                }

                (f.Phase, f.Fraction, f.Index) = (5, fraction, f.Index + 1);
                return Outcome.Consumed;
            case 2 or 3 or 5 when !IsDigit(b) && b != (byte)'.' && b is not ((byte)'e' or (byte)'E'):
                return bounds.Contains(negative, (long)f.Mask, f.Fraction, f.Phase == 5 ? f.Index : 0) ? Outcome.PopRefeed : Outcome.Reject;
            default:
                return Outcome.Reject;
        }
    }

    private static Outcome StepNumber(ref JsonFrame f, bool real, byte b)
    {
        switch (f.Phase)
        {
            case 0:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (b == (byte)'-')
                {
                    f.Phase = 1;
                    return Outcome.Consumed;
                }

                goto case 1;
            case 1:
                if (b == (byte)'0')
                {
                    f.Phase = 3;
                    return Outcome.Consumed;
                }

                if (IsDigit(b))
                {
                    f.Phase = 2;
                    f.Index = 1;
                    return Outcome.Consumed;
                }

                return Outcome.Reject;
            case 2 or 3:
                if (f.Phase == 2 && IsDigit(b))
                {
                    return f.Index++ < MaxDigits ? Outcome.Consumed : Outcome.Reject;
                }

                if (real && b == (byte)'.')
                {
                    f.Phase = 4;
                    f.Index = 0;
                    return Outcome.Consumed;
                }

                if (real && b is (byte)'e' or (byte)'E')
                {
                    f.Phase = 6;
                    return Outcome.Consumed;
                }

                return IsDigit(b) ? Outcome.Reject : Outcome.PopRefeed;
            case 4:
                if (!IsDigit(b))
                {
                    return Outcome.Reject;
                }

                f.Phase = 5;
                f.Index = 1;
                return Outcome.Consumed;
            case 5:
                if (IsDigit(b))
                {
                    return f.Index++ < MaxDigits ? Outcome.Consumed : Outcome.Reject;
                }

                if (b is (byte)'e' or (byte)'E')
                {
                    f.Phase = 6;
                    return Outcome.Consumed;
                }

                return Outcome.PopRefeed;
            case 6:
                if (b is (byte)'+' or (byte)'-')
                {
                    f.Phase = 7;
                    return Outcome.Consumed;
                }

                goto case 7;
            case 7:
                if (!IsDigit(b))
                {
                    return Outcome.Reject;
                }

                f.Phase = 8;
                f.Index = 1;
                return Outcome.Consumed;
            default:
                if (IsDigit(b))
                {
                    return f.Index++ < MaxExponentDigits ? Outcome.Consumed : Outcome.Reject;
                }

                return Outcome.PopRefeed;
        }
    }

    private static Outcome StepLiterals(ref JsonFrame f, JsonGrammarNode node, byte b)
    {
        var texts = node.Texts;
        if (f.Phase == 0)
        {
            if (IsWhitespace(b))
            {
                return Outcome.Whitespace;
            }

            f.Phase = 1;
            f.Pos = 0;
            f.Mask = texts.Length == 64 ? ulong.MaxValue : (1UL << texts.Length) - 1;
        }

        var next = 0UL;
        var longer = false;
        for (var i = 0; i < texts.Length; i++)
        {
            if ((f.Mask & (1UL << i)) != 0 && texts[i].Length > f.Pos && texts[i][f.Pos] == b)
            {
                next |= 1UL << i;
                longer |= texts[i].Length > f.Pos + 1;
            }
        }

        if (next == 0)
        {
            return HasFullMatch(texts, f.Mask, f.Pos) ? Outcome.PopRefeed : Outcome.Reject;
        }

        f.Mask = next;
        f.Pos++;
        // A finished literal that nothing longer extends is complete now, not at the next byte.
        return longer ? Outcome.Consumed : Outcome.Pop;
    }

    private static bool HasFullMatch(byte[][] texts, ulong mask, int pos)
    {
        for (var i = 0; i < texts.Length; i++)
        {
            if ((mask & (1UL << i)) != 0 && texts[i].Length == pos)
            {
                return true;
            }
        }

        return false;
    }

    private static int FirstRequiredFrom(JsonGrammarNode node, int from)
    {
        var i = from;
        while (i < node.Required.Length && !node.Required[i])
        {
            i++;
        }

        return i;
    }

    /// <summary>Properties that may come next: from <paramref name="from"/> up to and including the next required one.</summary>
    private static ulong KeyCandidates(JsonGrammarNode node, int from)
    {
        var last = Math.Min(FirstRequiredFrom(node, from), node.Keys.Length - 1);
        var mask = 0UL;
        for (var i = from; i <= last; i++)
        {
            mask |= 1UL << i;
        }

        return mask;
    }

    private static Outcome StepObject(ref JsonFrame f, JsonGrammarNode node, byte b, ref int child)
    {
        switch (f.Phase)
        {
            case 0:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (b != (byte)'{')
                {
                    return Outcome.Reject;
                }

                f.Phase = 1;
                return Outcome.Consumed;
            case 1 or 6:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (f.Phase == 1 && b == (byte)'}')
                {
                    return FirstRequiredFrom(node, f.Index) == node.Keys.Length ? Outcome.Pop : Outcome.Reject;
                }

                if (b != (byte)'"' || f.Index >= node.Keys.Length)
                {
                    return Outcome.Reject;
                }

                f.Mask = KeyCandidates(node, f.Index);
                f.Pos = 1;
                f.Phase = 2;
                return Outcome.Consumed;
            case 2:
                var next = 0UL;
                var matched = -1;
                for (var i = 0; i < node.Keys.Length; i++)
                {
                    var key = node.Keys[i];
                    if ((f.Mask & (1UL << i)) != 0 && key.Length > f.Pos && key[f.Pos] == b)
                    {
                        next |= 1UL << i;
                        if (key.Length == f.Pos + 1)
                        {
                            matched = i;
                        }
                    }
                }

                if (next == 0)
                {
                    return Outcome.Reject;
                }

                f.Mask = next;
                f.Pos++;
                if (matched >= 0)
                {
                    f.Index = matched + 1;
                    f.Phase = 3;
                }

                return Outcome.Consumed;
            case 3:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (b != (byte)':')
                {
                    return Outcome.Reject;
                }

                f.Phase = 5;
                child = node.Values[f.Index - 1];
                return Outcome.ConsumedPush;
            default:
                if (IsWhitespace(b))
                {
                    return Outcome.Whitespace;
                }

                if (b == (byte)',')
                {
                    if (f.Index >= node.Keys.Length)
                    {
                        return Outcome.Reject;
                    }

                    f.Phase = 6;
                    return Outcome.Consumed;
                }

                return b == (byte)'}' && FirstRequiredFrom(node, f.Index) == node.Keys.Length ? Outcome.Pop : Outcome.Reject;
        }
    }

    private Outcome StepFreeObject(ref JsonFrame f, JsonGrammarNode node, byte b, ref int child, ref int childPhase)
    {
        if (IsWhitespace(b) && f.Phase != 2)
        {
            return Outcome.Whitespace;
        }

        switch (f.Phase)
        {
            case 0:
                if (b != (byte)'{')
                {
                    return Outcome.Reject;
                }

                f.Phase = 1;
                return Outcome.Consumed;
            case 1 or 6:
                if (f.Phase == 1 && b == (byte)'}')
                {
                    return Outcome.Pop;
                }

                if (b != (byte)'"')
                {
                    return Outcome.Reject;
                }

                // The key string has its opening quote already.
                f.Phase = 3;
                child = Grammar.KeyString;
                childPhase = 1;
                return Outcome.ConsumedPush;
            case 3:
                if (b != (byte)':')
                {
                    return Outcome.Reject;
                }

                f.Phase = 5;
                child = node.Items;
                return Outcome.ConsumedPush;
            default:
                if (b == (byte)',')
                {
                    f.Phase = 6;
                    return Outcome.Consumed;
                }

                return b == (byte)'}' ? Outcome.Pop : Outcome.Reject;
        }
    }

    private static Outcome StepArray(ref JsonFrame f, JsonGrammarNode node, byte b, ref int child)
    {
        if (IsWhitespace(b))
        {
            return Outcome.Whitespace;
        }

        switch (f.Phase)
        {
            case 0:
                if (b != (byte)'[')
                {
                    return Outcome.Reject;
                }

                f.Phase = 1;
                return Outcome.Consumed;
            case 1 or 3:
                if (f.Phase == 1 && b == (byte)']')
                {
                    return node.MinItems == 0 ? Outcome.Pop : Outcome.Reject;
                }

                if (f.Index >= node.MaxItems)
                {
                    return Outcome.Reject;
                }

                f.Phase = 2;
                f.Index++;
                child = node.Items;
                return Outcome.PushRefeed;
            default:
                if (b == (byte)',')
                {
                    if (f.Index >= node.MaxItems)
                    {
                        return Outcome.Reject;
                    }

                    f.Phase = 3;
                    return Outcome.Consumed;
                }

                return b == (byte)']' && f.Index >= node.MinItems ? Outcome.Pop : Outcome.Reject;
        }
    }

    private Outcome StepUnion(JsonGrammarNode node, byte b, ref int child)
    {
        if (IsWhitespace(b))
        {
            return Outcome.Whitespace;
        }

        foreach (var alternative in node.Alternatives)
        {
            if (_nodes[alternative].FirstBytes[b])
            {
                child = alternative;
                return Outcome.Replace;
            }
        }

        return Outcome.Reject;
    }

    /// <summary>The fewest bytes that turn the text so far into a complete document.</summary>
    public int MinRemaining(JsonMatchState state)
    {
        var total = 0L;
        for (var d = 0; d < state.Depth; d++)
        {
            total += Remaining(state.Frames[d]);
        }

        return (int)Math.Min(total, int.MaxValue);
    }

    private int Remaining(in JsonFrame f)
    {
        var node = _nodes[f.Node];
        if (f.Phase == 0)
        {
            return node.MinLength;
        }

        switch (node.Kind)
        {
            case JsonNodeKind.String:
                var chars = Math.Max(0, node.MinChars - f.Index);
                return f.Phase switch
                {
                    1 => f.Pending + chars + 1,
                    2 => 1 + chars + 1,
                    _ => 4 - f.Pos + chars + 1,
                };
            case JsonNodeKind.Integer or JsonNodeKind.Number when node.Bounds is { } bounds:
                return (f.Phase is 4 or 5
                    ? bounds.FewestMoreFractionBytes(f.Pos == 1, (long)f.Mask, f.Fraction, f.Phase == 5 ? f.Index : 0)
                    : bounds.FewestMoreBytes(f.Pos == 1, (long)f.Mask, f.Index)) ?? JsonGrammar.Infinite;
            case JsonNodeKind.Integer or JsonNodeKind.Number:
                return f.Phase is 1 or 4 or 6 or 7 ? 1 : 0;
            case JsonNodeKind.Literals:
                var best = int.MaxValue;
                for (var i = 0; i < node.Texts.Length; i++)
                {
                    if ((f.Mask & (1UL << i)) != 0)
                    {
                        best = Math.Min(best, node.Texts[i].Length - f.Pos);
                    }
                }

                return best;
            case JsonNodeKind.Object:
                return ObjectRemaining(f, node);
            case JsonNodeKind.FreeObject:
                var value = _nodes[node.Items].MinLength;
                return f.Phase switch
                {
                    1 or 5 => 1,
                    3 => 1 + value + 1,
                    _ => 2 + 1 + value + 1,
                };
            case JsonNodeKind.Array:
                var item = _nodes[node.Items].MinLength;
                return f.Phase switch
                {
                    1 => node.MinItems == 0 ? 1 : node.MinItems * (item + 1),
                    2 => (Math.Max(0, node.MinItems - f.Index) * (item + 1)) + 1,
                    _ => item + (Math.Max(0, node.MinItems - f.Index - 1) * (item + 1)) + 1,
                };
            default:
                return node.MinLength;
        }
    }

    private int ObjectRemaining(in JsonFrame f, JsonGrammarNode node)
    {
        var after = node.CostAfter;
        switch (f.Phase)
        {
            case 1:
                return FirstRequiredFrom(node, 0) < node.Keys.Length ? after[0] - 1 : after[0];
            case 2:
                var best = int.MaxValue;
                for (var i = 0; i < node.Keys.Length; i++)
                {
                    if ((f.Mask & (1UL << i)) != 0)
                    {
                        best = Math.Min(best, node.Keys[i].Length - f.Pos + 1 + _nodes[node.Values[i]].MinLength + after[i + 1]);
                    }
                }

                return best;
            case 3:
                return 1 + _nodes[node.Values[f.Index - 1]].MinLength + after[f.Index];
            case 5:
                return after[f.Index];
            default:
                var cheapest = int.MaxValue;
                var candidates = KeyCandidates(node, f.Index);
                for (var i = 0; i < node.Keys.Length; i++)
                {
                    if ((candidates & (1UL << i)) != 0)
                    {
                        cheapest = Math.Min(cheapest, Grammar.PropertyCost(node, i) + after[i + 1]);
                    }
                }

                return cheapest;
        }
    }
}

/// <summary>Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.</summary>
internal static class Utf8
{
    /// <summary>Continuation bytes a lead byte needs (0 for ASCII), or -1 when it cannot start a character.</summary>
    public static int ContinuationBytes(byte lead) => lead switch
    {
        < 0x80 => 0,
        >= 0xC2 and <= 0xDF => 1,
        >= 0xE0 and <= 0xEF => 2,
        >= 0xF0 and <= 0xF4 => 3,
        _ => -1,
    };

    /// <param name="lead">The lead byte when <paramref name="b"/> is the first continuation byte, else 0.</param>
    /// <param name="b">The byte.</param>
    public static bool IsContinuation(int lead, byte b) => lead switch
    {
        0xE0 => b is >= 0xA0 and <= 0xBF,
        0xED => b is >= 0x80 and <= 0x9F,
        0xF0 => b is >= 0x90 and <= 0xBF,
        0xF4 => b is >= 0x80 and <= 0x8F,
        _ => b is >= 0x80 and <= 0xBF,
    };
}
