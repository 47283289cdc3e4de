using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Steward.Tools.Search;

/// <summary>Tavily's search API: <c>POST /search</c> with a JSON body and the key as a bearer token.</summary>
internal sealed class TavilyBackend(IHttpClientFactory http, WebSearchOptions options) : IWebSearchBackend
{
    private const string Service = "Tavily";

    public string Name => WebSearchBackends.Tavily;

    public async Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.TavilyApiKey))
        {
            throw new WebSearchException("Tavily has no key: set TAVILY_API_KEY or Steward:WebSearch:TavilyApiKey.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(options.TavilyEndpoint.TrimEnd('/') + "/"), "search"))
        {
            Content = JsonContent.Create(new Dictionary<string, object> { ["query"] = query, ["max_results"] = Math.Min(count, 20), ["search_depth"] = "basic" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.TavilyApiKey);
        request.Headers.Accept.ParseAdd("application/json");
        using var json = await SearchHttp.SendAsync(http.CreateClient(SearchHttp.ClientName), request, Service, "TAVILY_API_KEY", TimeSpan.FromSeconds(options.TimeoutSeconds), cancellationToken).ConfigureAwait(false);
        if (!json.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
        {
            throw new WebSearchException($"{Service} answered without a 'results' list.");
        }

        return SearchHttp.Results(results, count, Name, "content", "published_date");
    }
}
