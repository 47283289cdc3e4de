using System.Text;
using System.Text.RegularExpressions;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// A template's text after the preprocessing Hugging Face applies (one trailing newline dropped, <c>lstrip_blocks</c>,
/// <c>trim_blocks</c>, <c>{% generation %}</c> markers removed), with a map from each preprocessed character back to
/// its offset in the original source, so errors name the line and column the template's author sees.
/// </summary>
internal sealed partial class JinjaSource
{
    // JavaScript's \s (what @huggingface/jinja's regular expressions and trim use); .NET's \s differs on U+0085/U+FEFF.
    internal const string JsWhitespaceClass = @"[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]";

    private readonly string _original;
    private readonly int[] _map;

    private JinjaSource(string original, string text, int[] map)
    {
        _original = original;
        Text = text;
        _map = map;
    }

    /// <summary>The preprocessed text the lexer reads.</summary>
    public string Text { get; }

    public static JinjaSource Preprocess(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var text = template;
        var map = new int[text.Length + 1];
        for (var i = 0; i < map.Length; i++)
        {
            map[i] = i;
        }

        if (text.EndsWith('\n'))
        {
            text = text[..^1];
            map = map[..^1];
            map[^1] = template.Length;
        }

        (text, map) = Replace(text, map, LstripBlocks(), m => [m.Groups[1]]);
        (text, map) = Replace(text, map, TrimBlocks(), m => [m.Groups[1]]);
        (text, map) = Replace(text, map, GenerationTags(), m =>
        {
            var keep = new List<Capture>(2);
            if (m.Groups[2].Length == 0)
            {
                keep.Add(m.Groups[1]);
            }

            if (m.Groups[3].Length == 0)
            {
                keep.Add(m.Groups[4]);
            }

            return keep;
        });
        return new JinjaSource(template, text, map);
    }

    /// <summary>1-based line and column in the original template of preprocessed offset <paramref name="position"/>.</summary>
    public (int Line, int Column) Locate(int position)
    {
        var offset = _map[Math.Clamp(position, 0, _map.Length - 1)];
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < _original.Length; i++)
        {
            if (_original[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return (line, offset - lineStart + 1);
    }

    /// <summary>A <see cref="ChatTemplateException"/> placed at <paramref name="position"/>.</summary>
    public ChatTemplateException Error(string problem, int position)
    {
        var (line, column) = Locate(position);
        return new ChatTemplateException($"Chat template: {problem} (line {line}, column {column}).", line, column);
    }

    /// <summary>Replaces every match by the captures <paramref name="keep"/> picks (in order), keeping the offset map exact.</summary>
    private static (string Text, int[] Map) Replace(string text, int[] map, Regex regex, Func<Match, IEnumerable<Capture>> keep)
    {
        var matches = regex.Matches(text);
        if (matches.Count == 0)
        {
            return (text, map);
        }

        var output = new StringBuilder(text.Length);
        var newMap = new List<int>(map.Length);
        var at = 0;
        foreach (Match match in matches)
        {
            Copy(at, match.Index - at);
            foreach (var capture in keep(match))
            {
                Copy(capture.Index, capture.Length);
            }

            at = match.Index + match.Length;
        }

        Copy(at, text.Length - at);
        newMap.Add(map[text.Length]);
        return (output.ToString(), [.. newMap]);

        void Copy(int start, int length)
        {
            output.Append(text, start, length);
            for (var i = start; i < start + length; i++)
            {
                newMap.Add(map[i]);
            }
        }
    }

    // JavaScript's multiline ^ also matches after \r, U+2028 and U+2029.
    [GeneratedRegex(@"(?<=\A|[\n\r\u2028\u2029])[ \t]*(\{[#%-])", RegexOptions.CultureInvariant)]
    private static partial Regex LstripBlocks();

    [GeneratedRegex(@"([#%-]\})\n", RegexOptions.CultureInvariant)]
    private static partial Regex TrimBlocks();

    [GeneratedRegex(@"(" + JsWhitespaceClass + @"*)\{%(-?)" + JsWhitespaceClass + @"*(?:end)?generation" + JsWhitespaceClass + @"*(-?)%\}(" + JsWhitespaceClass + "*)", RegexOptions.CultureInvariant)]
    private static partial Regex GenerationTags();
}
