namespace Steward.Storage;

/// <summary>LIKE patterns from what a person typed: matched literally (their % and _ are not wildcards), escaped with \.</summary>
internal static class LikePattern
{
    /// <summary>The pattern for "contains <paramref name="text"/>"; use with escape character <c>\</c>.</summary>
    public static string Contains(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return "%" + text.Trim().Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
    }
}
