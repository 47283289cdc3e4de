using System.Text.RegularExpressions;

namespace Steward.Costs;

/// <summary>A case-insensitive model-id glob: <c>*</c> matches any run of characters, <c>?</c> exactly one.</summary>
internal sealed class GlobPattern
{
    private readonly Regex _regex;

    public GlobPattern(string pattern, string model, int order)
    {
        Pattern = pattern;
        Model = model;
        Order = order;
        _regex = new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
        LiteralLength = pattern.Count(c => c is not ('*' or '?'));
    }

    public string Pattern { get; }

    public string Model { get; }

    /// <summary>Position in its list, the last tie-breaker.</summary>
    public int Order { get; }

    /// <summary>How specific the pattern is: characters it pins down. <c>gpt-4o-mini-*</c> beats <c>gpt-4o-*</c>.</summary>
    public int LiteralLength { get; }

    public bool IsMatch(string modelId) => _regex.IsMatch(modelId);

    /// <summary>Most specific first: more literal characters, then fewer <c>*</c>, then list order.</summary>
    public static IReadOnlyList<GlobPattern> MostSpecificFirst(IEnumerable<GlobPattern> patterns) =>
        [.. patterns.OrderByDescending(p => p.LiteralLength).ThenBy(p => p.Pattern.Count(c => c == '*')).ThenBy(p => p.Order)];
}
