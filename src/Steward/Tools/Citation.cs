namespace Steward.Tools;

/// <summary>
/// A source an answer rests on: what a tool returned (a search result, a corpus document) or what the provider's own
/// search cited. Numbered in the order the run first met it, as the model was shown it (<c>[1]</c>, <c>[2]</c>…).
/// </summary>
/// <param name="Number">Its number in the run, from 1.</param>
/// <param name="Url">Where it is: a web address, or the path or address a corpus document was added from.</param>
/// <param name="Title">Its title, or the address when it has none.</param>
public sealed record Citation(int Number, string Url, string Title)
{
    /// <summary>The passage the tool returned, shortened.</summary>
    public string? Snippet { get; init; }

    /// <summary>What produced it: <c>corpus</c>, <c>searxng</c>, <c>brave</c>, <c>tavily</c>, <c>hosted</c> or a tool's name.</summary>
    public string Source { get; init; } = "";

    /// <summary>When the source says it was published, if it says.</summary>
    public DateTimeOffset? PublishedAt { get; init; }

    /// <summary>Where the answer cites it (character offsets, end exclusive), when the provider or the answer's text says.</summary>
    public int? StartIndex { get; init; }

    /// <inheritdoc cref="StartIndex"/>
    public int? EndIndex { get; init; }
}

/// <summary>A search result, normalised from whichever backend returned it.</summary>
/// <param name="Title">The page's or document's title.</param>
/// <param name="Url">Its address (for a corpus document: the address or path it was added from).</param>
/// <param name="Snippet">The passage that matched, as plain text.</param>
/// <param name="Backend">Which backend found it.</param>
public sealed record SearchResult(string Title, string Url, string Snippet, string Backend)
{
    /// <summary>When it was published, when the backend says.</summary>
    public DateTimeOffset? PublishedAt { get; init; }
}
