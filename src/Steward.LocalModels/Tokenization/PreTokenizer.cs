using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Steward.LocalModels.Tokenization;

/// <summary>
/// Splits text into words before byte-level BPE, using the regular expressions llama.cpp uses for the
/// <c>tokenizer.ggml.pre</c> name. Like llama.cpp, several expressions apply one after another, each splitting
/// every piece the previous one produced, and text between matches is kept as a piece of its own.
/// </summary>
/// <remarks>
/// .NET regular expressions see UTF-16 code units, so code points above U+FFFF are first replaced, one char each,
/// by a stand-in of the same Unicode category (the trick llama.cpp uses for std::regex); offsets map back to the
/// original text. The stand-ins lie outside the explicit ranges of the DeepSeek expressions, whose own
/// supplementary-plane ranges are therefore left out.
/// </remarks>
internal sealed class PreTokenizer
{
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Tekken = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Gpt4o = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Bloom = @" ?[^(\s|.,!?…。，、।۔،)]+";
    private const string DeepSeekLetters = @"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ]+";

    private static readonly Dictionary<string, Lazy<PreTokenizer>> ByName = BuildNames();

    private readonly Regex[] _expressions;

    private PreTokenizer(string name, bool ignoreMerges, bool addBos, params string[] expressions)
    {
        Name = name;
        IgnoreMerges = ignoreMerges;
        AddBosByDefault = addBos;
        _expressions = [.. expressions.Select(e => new Regex(e, RegexOptions.Compiled | RegexOptions.CultureInvariant))];
    }

    /// <summary>The llama.cpp pre-tokenizer family this name resolved to.</summary>
    public string Name { get; }

    /// <summary>Whole words found in the vocabulary are taken as-is before merging (llama.cpp does this for Llama 3).</summary>
    public bool IgnoreMerges { get; }

    /// <summary>llama.cpp's BOS default for this family when the GGUF file has no <c>add_bos_token</c> key.</summary>
    public bool AddBosByDefault { get; }

    /// <summary>The names this class understands, for error messages and docs.</summary>
    public static IReadOnlyCollection<string> KnownNames => ByName.Keys;

    /// <summary>Resolves a <c>tokenizer.ggml.pre</c> name; null or empty means llama.cpp's <c>default</c>.</summary>
    /// <exception cref="UnsupportedTokenizerException">The name is not one llama.cpp-compatible regexes are known for.</exception>
    public static PreTokenizer ForName(string? name)
    {
        var key = string.IsNullOrEmpty(name) ? "default" : name;
        return ByName.TryGetValue(key, out var cached)
            ? cached.Value
            : throw new UnsupportedTokenizerException(
                $"Pre-tokenizer '{name}' (tokenizer.ggml.pre) is not supported. Supported: {string.Join(", ", ByName.Keys.Order(StringComparer.Ordinal))}.");
    }

    /// <summary>Splits <paramref name="text"/> into pre-tokenized words (substrings that together are the text).</summary>
    public List<string> Split(ReadOnlySpan<char> text)
    {
        var (view, offsets) = Collapse(text);
        var pieces = new List<(int Start, int End)> { (0, view.Length) };
        foreach (var regex in _expressions)
        {
            var next = new List<(int Start, int End)>(pieces.Count * 2);
            foreach (var (start, end) in pieces)
            {
                var position = start;
                var match = regex.Match(view, start, end - start);
                while (match.Success)
                {
                    if (match.Length == 0)
                    {
                        match = match.NextMatch();
                        continue;
                    }

                    if (match.Index > position)
                    {
                        next.Add((position, match.Index));
                    }

                    next.Add((match.Index, match.Index + match.Length));
                    position = match.Index + match.Length;
                    match = match.NextMatch();
                }

                if (end > position)
                {
                    next.Add((position, end));
                }
            }

            pieces = next;
        }

        var words = new List<string>(pieces.Count);
        foreach (var (start, end) in pieces)
        {
            var from = offsets is null ? start : offsets[start];
            var to = offsets is null ? end : offsets[end];
            words.Add(text[from..to].ToString());
        }

        return words;
    }

    // One char per code point: BMP text is used as is; supplementary code points get a same-category stand-in.
    private static (string View, int[]? Offsets) Collapse(ReadOnlySpan<char> text)
    {
        var hasSurrogates = text.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;
        if (!hasSurrogates)
        {
            return (text.ToString(), null);
        }

        var view = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (Rune.DecodeFromUtf16(text[i..], out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                view.Append('\uE000');
                i += 1;
                continue;
            }

            view.Append(rune.IsBmp ? (char)rune.Value : StandIn(Rune.GetUnicodeCategory(rune)));
            i += consumed;
        }

        offsets.Add(text.Length);
        return (view.ToString(), [.. offsets]);
    }

    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0181',
        UnicodeCategory.LowercaseLetter => '\u0180',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u00AA',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => '\u0300',
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u00A8',
        UnicodeCategory.OtherSymbol => '\u00A6',
        _ => '\uE000',
    };

    // Lazy and shared: compiled regexes are costly to build and safe to use from many threads.
    private static Dictionary<string, Lazy<PreTokenizer>> BuildNames()
    {
        var names = new Dictionary<string, Lazy<PreTokenizer>>(StringComparer.Ordinal);
        void Add(Func<PreTokenizer> factory, params string[] aliases)
        {
            var shared = new Lazy<PreTokenizer>(factory);
            foreach (var alias in aliases)
            {
                names[alias] = shared;
            }
        }

        Add(() => new PreTokenizer("default", false, false, @"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"), "default");
        Add(() => new PreTokenizer("llama3", true, true, Llama3), "llama3", "llama-v3", "llama-bpe", "falcon3");
        Add(() => new PreTokenizer("llama3-like", false, false, Llama3), "dbrx", "smaug-bpe", "chatglm-bpe");
        Add(() => new PreTokenizer("qwen2", false, false, Qwen2), "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan");
        Add(() => new PreTokenizer("gpt2", false, false, Gpt2), "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "roberta-bpe",
            "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code");
        Add(() => new PreTokenizer("starcoder", false, false, @"\p{N}", Gpt2), "starcoder", "refact", "command-r", "smollm", "codeshell",
            "exaone", "minerva-7b");
        Add(() => new PreTokenizer("falcon", false, false, @"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"), "falcon");
        Add(() => new PreTokenizer("deepseek-llm", false, false, "[\r\n]", DeepSeekLetters, @"\s?[!-/:-~！-／：-～‘-‟　-。]+", @"\s+$",
            "[一-龥ࠀ-一가-퟿]+", @"\p{N}+"), "deepseek-llm");
        Add(() => new PreTokenizer("deepseek-coder", false, false, "[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"), "deepseek-coder");
        Add(() => new PreTokenizer("deepseek-v3", false, false, @"\p{N}{1,3}", "[一-龥\u3040-ゟ゠-ヿ]+",
            @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
            "deepseek-v3");
        Add(() => new PreTokenizer("bloom", false, false, Bloom), "poro-chat", "bloom", "gpt3-finnish");
        Add(() => new PreTokenizer("viking", false, false, Bloom, @"\p{N}"), "viking");
        Add(() => new PreTokenizer("tekken", false, false, Tekken), "tekken");
        Add(() => new PreTokenizer("gpt-4o", false, false, Gpt4o), "gpt-4o");
        return names;
    }
}
