namespace Steward.Tools;

/// <summary>
/// The sources a run's tools returned, numbered as the model was shown them: a source met again keeps its first number,
/// so <c>[3]</c> means one thing for the whole run. Thread-safe (tool calls may run at once).
/// </summary>
public sealed class SourceLedger
{
    private readonly Lock _gate = new();
    private readonly List<Citation> _sources = [];
    private readonly Dictionary<string, int> _byUrl = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every source so far, by number.</summary>
    public IReadOnlyList<Citation> Sources
    {
        get
        {
            lock (_gate)
            {
                return [.. _sources];
            }
        }
    }

    /// <summary>Adds results (or finds them already added) and returns them with their numbers.</summary>
    public IReadOnlyList<Citation> Add(IEnumerable<SearchResult> results, string source)
    {
        ArgumentNullException.ThrowIfNull(results);
        var numbered = new List<Citation>();
        lock (_gate)
        {
            foreach (var result in results)
            {
                if (!_byUrl.TryGetValue(result.Url, out var number))
                {
                    number = _sources.Count + 1;
                    _byUrl[result.Url] = number;
                    _sources.Add(new Citation(number, result.Url, result.Title)
                    {
                        Snippet = Shorten(result.Snippet, 500), Source = source, PublishedAt = result.PublishedAt,
                    });
                }

                numbered.Add(_sources[number - 1]);
            }
        }

        return numbered;
    }

    /// <summary>Adds a source the provider cited itself (hosted search), with where the answer cites it.</summary>
    public void AddCited(string url, string? title, int? start, int? end)
    {
        lock (_gate)
        {
            if (_byUrl.TryGetValue(url, out var number))
            {
                var known = _sources[number - 1];
                if (known.StartIndex is null && start is not null)
                {
                    _sources[number - 1] = known with { StartIndex = start, EndIndex = end };
                }

                return;
            }

            _byUrl[url] = _sources.Count + 1;
            _sources.Add(new Citation(_sources.Count + 1, url, string.IsNullOrWhiteSpace(title) ? url : title) { Source = WebSearchBackends.Hosted, StartIndex = start, EndIndex = end });
        }
    }

    /// <summary>
    /// The run's citations against its answer: each source, with where the answer first cites it (its <c>[n]</c> or its
    /// address) when the provider did not say.
    /// </summary>
    public IReadOnlyList<Citation> CitationsFor(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return Sources.Select(c =>
        {
            if (c.StartIndex is not null)
            {
                return c;
            }

            var marker = $"[{c.Number}]";
            var at = answer.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                at = answer.IndexOf(c.Url, StringComparison.OrdinalIgnoreCase);
                marker = c.Url;
            }

            return at < 0 ? c : c with { StartIndex = at, EndIndex = at + marker.Length };
        }).ToArray();
    }

    /// <summary>The results as the model reads them: numbered, with title, address, date and passage.</summary>
    public static string Format(IReadOnlyList<Citation> numbered)
    {
        ArgumentNullException.ThrowIfNull(numbered);
        if (numbered.Count == 0)
        {
            return "No results.";
        }

        var text = new System.Text.StringBuilder();
        foreach (var c in numbered)
        {
            text.Append('[').Append(c.Number).Append("] ").Append(c.Title).Append('\n').Append(c.Url).Append('\n');
            if (c.PublishedAt is { } published)
            {
                text.Append("Published ").Append(published.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
            }

            if (!string.IsNullOrWhiteSpace(c.Snippet))
            {
                text.Append(c.Snippet).Append('\n');
            }

            text.Append('\n');
        }

        return text.ToString().TrimEnd();
    }

    internal static string Shorten(string? text, int max)
    {
        var value = (text ?? "").Trim();
        return value.Length <= max ? value : value[..max].TrimEnd() + "…";
    }
}
