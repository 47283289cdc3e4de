using System.Text.RegularExpressions;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// An answer's words, sentences and their stems, computed once and shared by the heuristic evaluators. Markdown
/// markup (code fences, heading marks, list bullets, emphasis) is not counted as words.
/// </summary>
internal sealed partial class AnswerText
{
    private AnswerText(string text)
    {
        Text = text;
        var prose = CodeFence().Replace(text, " ");
        Words = WordPattern().Matches(prose).Select(m => m.Value.ToLowerInvariant()).ToArray();
        Stems = Words.Select(WordStemmer.Stem).ToArray();
        Sentences = SentenceEnd().Split(prose).Count(s => WordPattern().IsMatch(s));
    }

    public string Text { get; }

    /// <summary>Lower-case words, in order.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>The stem of each word in <see cref="Words"/>, index for index.</summary>
    public IReadOnlyList<string> Stems { get; }

    public int Sentences { get; }

    public static AnswerText Of(string text) => new(text ?? "");


    /// <summary>Counts the words of a piece of text.</summary>
    public static int CountWords(string text) => WordPattern().Count(text);

    /// <summary>
    /// Whether the answer contains the phrase's stems in a row, or written as one word ("tradeoffs" for "trade-offs").
    /// Returns the words as written in the answer, for the reason.
    /// </summary>
    public string? Find(string phrase)
    {
        var words = WordPattern().Matches(phrase).Select(m => m.Value.ToLowerInvariant()).ToArray();
        var phraseStems = words.Select(WordStemmer.Stem).ToArray();
        if (phraseStems.Length == 0)
        {
            return null;
        }

        var joined = WordStemmer.Stem(string.Concat(words));
        for (var i = 0; i < Stems.Count; i++)
        {
            if (phraseStems.Length > 1 && Stems[i] == joined)
            {
                return Words[i];
            }

            var j = 0;
            while (j < phraseStems.Length && i + j < Stems.Count && Stems[i + j] == phraseStems[j])
            {
                j++;
            }

            if (j == phraseStems.Length)
            {
                return string.Join(' ', Words.Skip(i).Take(j));
            }
        }

        return null;
    }

    /// <summary>Estimated syllables of a word: vowel groups, less a silent final e, at least one.</summary>
    public static int Syllables(string word)
    {
        var count = 0;
        var previousVowel = false;
        foreach (var c in word)
        {
            var vowel = c is 'a' or 'e' or 'i' or 'o' or 'u' or 'y';
            if (vowel && !previousVowel)
            {
                count++;
            }

            previousVowel = vowel;
        }

        if (word.Length > 2 && word.EndsWith('e') && !word.EndsWith("le", StringComparison.Ordinal) && count > 1)
        {
            count--;
        }

        return Math.Max(1, count);
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:['’][\p{L}]+)?")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)]|#{1,6})\s)")]
    private static partial Regex SentenceEnd();

    [GeneratedRegex(@"```.*?```", RegexOptions.Singleline)]
    private static partial Regex CodeFence();
}

/// <summary>
/// A light English stemmer: enough to match inflections ("risks", "trending", "recommended") and common
/// derivations ("recommendation", "investment"), conservative enough not to merge unrelated short words.
/// </summary>
internal static class WordStemmer
{
    public static string Stem(string word)
    {
        var w = word.Replace('’', '\'');
        if (w.EndsWith("'s", StringComparison.Ordinal))
        {
            w = w[..^2];
        }

        if (w.Length <= 3)
        {
            return w;
        }

        if (w.EndsWith("ies", StringComparison.Ordinal) && w.Length > 4)
        {
            w = w[..^3] + "y";
        }
        else if (w.EndsWith("sses", StringComparison.Ordinal) || w.EndsWith("shes", StringComparison.Ordinal) ||
                 w.EndsWith("ches", StringComparison.Ordinal) || w.EndsWith("xes", StringComparison.Ordinal))
        {
            w = w[..^2];
        }
        else if (w.EndsWith('s') && !w.EndsWith("ss", StringComparison.Ordinal) && !w.EndsWith("us", StringComparison.Ordinal) &&
                 !w.EndsWith("is", StringComparison.Ordinal))
        {
            w = w[..^1];
        }

        foreach (var suffix in (string[])["ations", "ation", "ments", "ment", "ness", "ingly", "ing", "edly", "ed", "ly"])
        {
            if (w.EndsWith(suffix, StringComparison.Ordinal) && w.Length - suffix.Length >= 4)
            {
                w = w[..^suffix.Length];
                // "running" → "runn" → "run"; "planned" → "plann" → "plan".
                if (suffix is "ing" or "ed" && w.Length > 3 && w[^1] == w[^2] && w[^1] is not ('l' or 's' or 'z'))
                {
                    w = w[..^1];
                }

                break;
            }
        }

        // "estimate"/"estimated"/"estimating" meet at "estimat".
        if (w.EndsWith('e') && w.Length > 4)
        {
            w = w[..^1];
        }

        return w;
    }
}
