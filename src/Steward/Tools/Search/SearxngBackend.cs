using System.Text.Json;

namespace Steward.Tools.Search;

/// <summary>SearXNG's JSON API: <c>GET {instance}/search?q=…&amp;format=json</c> (the instance must allow the json format).</summary>
internal sealed class SearxngBackend(IHttpClientFactory http, WebSearchOptions options) : IWebSearchBackend
{
    public string Name => WebSearchBackends.Searxng;

    public async Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.SearxngUrl) || !Uri.TryCreate(options.SearxngUrl.TrimEnd('/') + "/", UriKind.Absolute, out var instance))
        {
            throw new WebSearchException("SearXNG is not set up: set SEARXNG_URL or Steward:WebSearch:SearxngUrl to your instance's address.");
        }

        var service = $"SearXNG at {instance.Authority}";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(instance, "search?q=" + Uri.EscapeDataString(query) + "&format=json"));
        request.Headers.Accept.ParseAdd("application/json");
        using var json = await SearchHttp.SendAsync(http.CreateClient(SearchHttp.ClientName), request, service, null, TimeSpan.FromSeconds(options.TimeoutSeconds), cancellationToken).ConfigureAwait(false);
        if (!json.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
        {
            throw new WebSearchException($"{service} answered without a 'results' list.");
        }

        return SearchHttp.Results(results, count, Name, "content", "publishedDate");
    }
}
