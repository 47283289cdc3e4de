namespace Steward.Tools.Search;

/// <summary>A search service Steward's own <c>web_search</c> function asks. Implementations are thread-safe.</summary>
public interface IWebSearchBackend
{
    /// <summary>The backend's name in configuration (<c>corpus</c>, <c>searxng</c>, <c>brave</c>, <c>tavily</c>).</summary>
    string Name { get; }

    /// <summary>Searches; results best first, at most <paramref name="count"/>.</summary>
    /// <exception cref="WebSearchException">The service failed or is not set up; the message names it and never holds a key.</exception>
    Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken);
}

/// <summary>A search that could not be made, with a message fit to show (and to hand to the model): it names the backend, never a key.</summary>
public sealed class WebSearchException : Exception
{
    public WebSearchException(string message) : base(message) { }

    public WebSearchException(string message, Exception innerException) : base(message, innerException) { }

    public WebSearchException() { }
}
