using System.Globalization;
using System.Text;

namespace Steward.LocalModels.Templates.Jinja;

internal enum JinjaTokenKind
{
    Text,
    Number,
    String,
    Identifier,
    Equals,
    OpenParen,
    CloseParen,
    OpenStatement,
    CloseStatement,
    OpenExpression,
    CloseExpression,
    OpenBracket,
    CloseBracket,
    OpenBrace,
    CloseBrace,
    Comma,
    Dot,
    Colon,
    Pipe,
    Additive,
    Multiplicative,
    Power,
    Comparison,
    Unary,
    Comment,
}

/// <summary>A token; Position is its offset in the preprocessed text (see <see cref="JinjaSource.Locate"/>).</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Position);

/// <summary>
/// Splits a preprocessed template into text, tag and expression tokens the way @huggingface/jinja does, including
/// whitespace control (<c>{%-</c>, <c>-%}</c>, <c>{{-</c>, <c>-}}</c>, <c>{#-</c>, <c>-#}</c>) and string escapes.
/// </summary>
internal static class JinjaLexer
{
    // Longest first where one is a prefix of another ("**" before "*", "//" before "/", "<=" before "<").
    private static readonly (string Text, JinjaTokenKind Kind)[] Symbols =
    [
        ("{%", JinjaTokenKind.OpenStatement), ("%}", JinjaTokenKind.CloseStatement),
        ("{{", JinjaTokenKind.OpenExpression), ("}}", JinjaTokenKind.CloseExpression),
        ("(", JinjaTokenKind.OpenParen), (")", JinjaTokenKind.CloseParen),
        ("{", JinjaTokenKind.OpenBrace), ("}", JinjaTokenKind.CloseBrace),
        ("[", JinjaTokenKind.OpenBracket), ("]", JinjaTokenKind.CloseBracket),
        (",", JinjaTokenKind.Comma), (".", JinjaTokenKind.Dot), (":", JinjaTokenKind.Colon), ("|", JinjaTokenKind.Pipe),
        ("<=", JinjaTokenKind.Comparison), (">=", JinjaTokenKind.Comparison), ("==", JinjaTokenKind.Comparison),
        ("!=", JinjaTokenKind.Comparison), ("<", JinjaTokenKind.Comparison), (">", JinjaTokenKind.Comparison),
        ("+", JinjaTokenKind.Additive), ("-", JinjaTokenKind.Additive), ("~", JinjaTokenKind.Additive),
        ("**", JinjaTokenKind.Power), ("*", JinjaTokenKind.Multiplicative), ("//", JinjaTokenKind.Multiplicative),
        ("/", JinjaTokenKind.Multiplicative), ("%", JinjaTokenKind.Multiplicative),
        ("=", JinjaTokenKind.Equals),
    ];

    public static List<JinjaToken> Tokenize(JinjaSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var src = source.Text;
        var tokens = new List<JinjaToken>();
        var pos = 0;
        var braceDepth = 0;

        while (pos < src.Length)
        {
            var lastKind = tokens.Count == 0 ? (JinjaTokenKind?)null : tokens[^1].Kind;
            if (lastKind is null or JinjaTokenKind.CloseStatement or JinjaTokenKind.CloseExpression or JinjaTokenKind.Comment)
            {
                var start = pos;
                while (pos < src.Length && !(src[pos] == '{' && pos + 1 < src.Length && src[pos + 1] is '%' or '{' or '#'))
                {
                    pos++;
                }

                if (pos > start)
                {
                    tokens.Add(new JinjaToken(JinjaTokenKind.Text, src[start..pos], start));
                    continue;
                }
            }

            if (At("{#"))
            {
                var start = pos;
                pos += 2;
                var stripBefore = pos < src.Length && src[pos] == '-';
                if (stripBefore)
                {
                    pos++;
                }

                var end = src.IndexOf("#}", pos, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw source.Error("comment '{#' is never closed with '#}'", start);
                }

                var comment = src[pos..end];
                var stripAfter = comment.EndsWith('-');
                if (stripBefore)
                {
                    StripTrailingWhitespace();
                }

                tokens.Add(new JinjaToken(JinjaTokenKind.Comment, stripAfter ? comment[..^1] : comment, start));
                pos = end + 2;
                if (stripAfter)
                {
                    SkipWhitespace();
                }

                continue;
            }

            if (At("{%-"))
            {
                StripTrailingWhitespace();
                tokens.Add(new JinjaToken(JinjaTokenKind.OpenStatement, "{%", pos));
                pos += 3;
                continue;
            }

            if (At("{{-"))
            {
                StripTrailingWhitespace();
                tokens.Add(new JinjaToken(JinjaTokenKind.OpenExpression, "{{", pos));
                braceDepth = 0;
                pos += 3;
                continue;
            }

            SkipWhitespace();
            if (pos >= src.Length)
            {
                throw source.Error("the template ends inside a tag", pos);
            }

            if (At("-%}"))
            {
                tokens.Add(new JinjaToken(JinjaTokenKind.CloseStatement, "%}", pos));
                pos += 3;
                SkipWhitespace();
                continue;
            }

            if (At("-}}"))
            {
                tokens.Add(new JinjaToken(JinjaTokenKind.CloseExpression, "}}", pos));
                pos += 3;
                SkipWhitespace();
                continue;
            }

            var c = src[pos];
            if (c is '-' or '+')
            {
                var previous = tokens.Count == 0 ? JinjaTokenKind.Text : tokens[^1].Kind;
                if (previous == JinjaTokenKind.Text)
                {
                    throw source.Error($"unexpected '{c}'", pos);
                }

                if (previous is not (JinjaTokenKind.Identifier or JinjaTokenKind.Number or JinjaTokenKind.String
                    or JinjaTokenKind.CloseParen or JinjaTokenKind.CloseBracket))
                {
                    // A sign in operand position: a signed number literal, or a unary operator.
                    var start = pos++;
                    var number = ReadNumber();
                    tokens.Add(number.Length > 0
                        ? new JinjaToken(JinjaTokenKind.Number, c + number, start)
                        : new JinjaToken(JinjaTokenKind.Unary, c.ToString(), start));
                    continue;
                }
            }

            var matched = false;
            foreach (var (text, kind) in Symbols)
            {
                if (text == "}}" && braceDepth > 0)
                {
                    continue;
                }

                if (At(text))
                {
                    tokens.Add(new JinjaToken(kind, text, pos));
                    if (kind == JinjaTokenKind.OpenExpression)
                    {
                        braceDepth = 0;
                    }
                    else if (kind == JinjaTokenKind.OpenBrace)
                    {
                        braceDepth++;
                    }
                    else if (kind == JinjaTokenKind.CloseBrace)
                    {
                        braceDepth--;
                    }

                    pos += text.Length;
                    matched = true;
                    break;
                }
            }

            if (matched)
            {
                continue;
            }

            if (c is '\'' or '"')
            {
                var start = pos++;
                tokens.Add(new JinjaToken(JinjaTokenKind.String, ReadString(c, start), start));
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                var start = pos;
                var number = ReadDigits();
                if ((tokens.Count == 0 || tokens[^1].Kind != JinjaTokenKind.Dot) && pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
                {
                    pos++;
                    number += "." + ReadDigits();
                }

                tokens.Add(new JinjaToken(JinjaTokenKind.Number, number, start));
                continue;
            }

            if (IsWordChar(c))
            {
                var start = pos;
                while (pos < src.Length && IsWordChar(src[pos]))
                {
                    pos++;
                }

                tokens.Add(new JinjaToken(JinjaTokenKind.Identifier, src[start..pos], start));
                continue;
            }

            throw source.Error($"unexpected character '{c}'", pos);
        }

        return tokens;

        bool At(string text) => src.AsSpan(pos).StartsWith(text, StringComparison.Ordinal);

        void SkipWhitespace()
        {
            while (pos < src.Length && IsJsWhitespace(src[pos]))
            {
                pos++;
            }
        }

        void StripTrailingWhitespace()
        {
            if (tokens.Count > 0 && tokens[^1].Kind == JinjaTokenKind.Text)
            {
                var trimmed = TrimEndJs(tokens[^1].Value);
                if (trimmed.Length == 0)
                {
                    tokens.RemoveAt(tokens.Count - 1);
                }
                else
                {
                    tokens[^1] = tokens[^1] with { Value = trimmed };
                }
            }
        }

        string ReadDigits()
        {
            var start = pos;
            while (pos < src.Length && char.IsAsciiDigit(src[pos]))
            {
                pos++;
            }

            return src[start..pos];
        }

        string ReadNumber()
        {
            var number = ReadDigits();
            if (number.Length > 0 && pos + 1 < src.Length && src[pos] == '.' && char.IsAsciiDigit(src[pos + 1]))
            {
                pos++;
                number += "." + ReadDigits();
            }

            return number;
        }

        string ReadString(char quote, int start)
        {
            var text = new StringBuilder();
            while (true)
            {
                if (pos >= src.Length)
                {
                    throw source.Error("string literal is never closed", start);
                }

                var ch = src[pos];
                if (ch == quote)
                {
                    pos++;
                    return text.ToString();
                }

                if (ch != '\\')
                {
                    text.Append(ch);
                    pos++;
                    continue;
                }

                if (++pos >= src.Length)
                {
                    throw source.Error("string literal ends in a backslash", start);
                }

                var escaped = src[pos++];
                if (escaped is 'x' or 'u')
                {
                    var length = escaped == 'x' ? 2 : 4;
                    if (pos + length > src.Length || !int.TryParse(src.AsSpan(pos, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    {
                        throw source.Error($"invalid escape '\\{escaped}' in a string literal", pos - 2);
                    }

                    text.Append((char)code);
                    pos += length;
                    continue;
                }

                text.Append(escaped switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\b',
                    'f' => '\f',
                    'v' => '\v',
                    '\'' => '\'',
                    '"' => '"',
                    '\\' => '\\',
                    _ => throw source.Error($"unsupported escape '\\{escaped}' in a string literal", pos - 2),
                });
            }
        }
    }

    public static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    /// <summary>JavaScript's whitespace (<c>\s</c>, <c>String.prototype.trim</c>).</summary>
    public static bool IsJsWhitespace(char c) => c switch
    {
        '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or '\u00a0' or '\u1680' or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000' or '\ufeff' => true,
        >= '\u2000' and <= '\u200a' => true,
        _ => false,
    };

    public static string TrimJs(string value) => TrimEndJs(TrimStartJs(value));

    public static string TrimStartJs(string value)
    {
        var start = 0;
        while (start < value.Length && IsJsWhitespace(value[start]))
        {
            start++;
        }

        return start == 0 ? value : value[start..];
    }

    public static string TrimEndJs(string value)
    {
        var end = value.Length;
        while (end > 0 && IsJsWhitespace(value[end - 1]))
        {
            end--;
        }

        return end == value.Length ? value : value[..end];
    }
}
