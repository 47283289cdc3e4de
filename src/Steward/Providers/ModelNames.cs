namespace Steward.Providers;

/// <summary>
/// What a model (or deployment, or provider) name may contain. Real names are ids such as <c>gpt-4o-2024-08-06</c>,
/// <c>org/model:tag</c>, <c>llama3.2:1b-instruct-q4_K_M</c>, <c>anthropic.claude-3-5-sonnet-20240620-v1:0</c>,
/// <c>publishers/google/models/gemini-1.5-pro@001</c>, Azure deployment names, or the path of a <c>.gguf</c> file (spaces,
/// brackets and any letters included). None contains a control character, a bidirectional override or markup
/// (<c>&lt; &gt; " `</c>), which only ever serve to inject into a page, a log line or a terminal; those are refused where a
/// name enters Steward (options, configuration, presets, imports), so every page and report can trust what is stored.
/// </summary>
public static class ModelNames
{
    /// <summary>Longer than any model id or reasonable file path.</summary>
    public const int MaxLength = 1000;

    /// <summary>Why <paramref name="name"/> is not a model name (a phrase to follow the name), or <see langword="null"/>.</summary>
    public static string? Problem(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > MaxLength)
        {
            return $"is {name.Length} characters long; a model name has at most {MaxLength}";
        }

        foreach (var c in name)
        {
            if (char.IsControl(c) || c is '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'))
            {
                return $"contains the control character U+{(int)c:X4}; a model name is one line of visible text";
            }

            if (c is '<' or '>' or '"' or '`')
            {
                return $"contains '{c}', which no model name has (names look like gpt-4o-2024-08-06, org/model:tag or a .gguf path)";
            }
        }

        return null;
    }

    /// <summary>The text of a model name as it can be shown in a one-line message: control characters made visible.</summary>
    public static string Shown(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return string.Concat(name.Take(80).Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString())) + (name.Length > 80 ? "…" : "");
    }
}
