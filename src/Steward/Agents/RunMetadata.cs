namespace Steward.Agents;

/// <summary>
/// The tags and user id a caller puts on a run (<see cref="RunRequest.Tags"/>, <see cref="RunRequest.UserId"/>): checked
/// and tidied the same way whichever host they came from (Chat, <c>ask --tag/--user</c>, the gateway, the API). Thread-safe.
/// </summary>
public static class RunMetadata
{
    /// <summary>The most tags one run carries.</summary>
    public const int MaxTags = 20;

    /// <summary>The longest tag, in characters.</summary>
    public const int MaxTagLength = 64;

    /// <summary>The longest user id, in characters.</summary>
    public const int MaxUserIdLength = 200;

    /// <summary>The tag every dataset case's run carries, so History can leave evaluation runs out by default.</summary>
    public const string EvaluationTag = "eval";

    /// <summary>
    /// The tags trimmed, blanks dropped and each kept once (first spelling wins), in the order given.
    /// </summary>
    /// <exception cref="ArgumentException">Too many tags, a tag too long, or one with a control character; the message names it.</exception>
    public static IReadOnlyList<string> Tags(IEnumerable<string>? tags)
    {
        var kept = new List<string>();
        foreach (var raw in tags ?? [])
        {
            var tag = raw?.Trim() ?? "";
            if (tag.Length == 0 || kept.Contains(tag, StringComparer.Ordinal))
            {
                continue;
            }

            if (tag.Length > MaxTagLength)
            {
                throw new ArgumentException($"Tag '{tag[..20]}…' is {tag.Length} characters long; a tag has at most {MaxTagLength}.");
            }

            if (tag.Any(char.IsControl))
            {
                throw new ArgumentException($"Tag '{Printable(tag)}' contains a control character; use letters, digits and punctuation.");
            }

            kept.Add(tag);
        }

        return kept.Count > MaxTags ? throw new ArgumentException($"A run has at most {MaxTags} tags; {kept.Count} were given.") : kept;
    }

    /// <summary>The user id trimmed; <see langword="null"/> when blank.</summary>
    /// <exception cref="ArgumentException">Too long, or with a control character; the message says which.</exception>
    public static string? UserId(string? userId)
    {
        var id = userId?.Trim();
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        if (id.Length > MaxUserIdLength)
        {
            throw new ArgumentException($"The user id is {id.Length} characters long; it has at most {MaxUserIdLength}.");
        }

        return id.Any(char.IsControl) ? throw new ArgumentException($"The user id '{Printable(id)}' contains a control character.") : id;
    }

    private static string Printable(string text) => new([.. text.Select(c => char.IsControl(c) ? '?' : c)]);
}
