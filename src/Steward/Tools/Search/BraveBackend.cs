using System.Globalization;
using System.Text.Json;

namespace Steward.Tools.Search;

/// <summary>Brave Search's web API: <c>GET /res/v1/web/search?q=…&amp;count=N</c> with the key in <c>X-Subscription-Token</c>.</summary>
internal sealed class BraveBackend(IHttpClientFactory http, WebSearchOptions options) : IWebSearchBackend
{
    private const string Service = "Brave Search";

    public string Name => WebSearchBackends.Brave;

    public async Task<IReadOnlyList<SearchResult>> SearchAsync(string query, int count, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.BraveApiKey))
        {
            throw new WebSearchException("Brave Search has no key: set BRAVE_API_KEY or Steward:WebSearch:BraveApiKey.");
        }

        var uri = new Uri(new Uri(options.BraveEndpoint.TrimEnd('/') + "/"),
            string.Create(CultureInfo.InvariantCulture, $"res/v1/web/search?q={Uri.EscapeDataString(query)}&count={Math.Min(count, 20)}"));
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.TryAddWithoutValidation("X-Subscription-Token", options.BraveApiKey);
        using var json = await SearchHttp.SendAsync(http.CreateClient(SearchHttp.ClientName), request, Service, "BRAVE_API_KEY", TimeSpan.FromSeconds(options.TimeoutSeconds), cancellationToken).ConfigureAwait(false);
        if (!json.RootElement.TryGetProperty("web", out var web) || !web.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
        {
            // No web section means no web results (Brave leaves it out when nothing matched).
            return [];
        }

        return SearchHttp.Results(results, count, Name, "description", "page_age");
    }
}
