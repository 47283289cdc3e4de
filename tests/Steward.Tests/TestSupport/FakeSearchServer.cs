using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Tests.TestSupport;

/// <summary>A result the fake search services return.</summary>
public sealed record FakeHit(string Title, string Url, string Text, string? Published = null);

/// <summary>
/// A real HTTP server on a loopback port speaking the JSON of SearXNG (<c>GET /search?q=…&amp;format=json</c>), Brave
/// Search (<c>GET /res/v1/web/search</c>, <c>X-Subscription-Token</c>) and Tavily (<c>POST /search</c>, bearer key), so
/// Steward's backends run their real HTTP code against it.
/// </summary>
public sealed class FakeSearchServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeSearchServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>What every request got: path, query string, method and headers.</summary>
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Results per query; by default three hits about the query.</summary>
    public Func<string, IReadOnlyList<FakeHit>> Hits { get; set; } = query =>
    [
        new($"{query} — overview", $"https://research.evdata.org/{Slug(query)}/overview", $"An overview of <strong>{query}</strong> &amp; its market.", "2025-03-01T00:00:00Z"),
        new($"{query} — players", $"https://news.chargewatch.net/{Slug(query)}/players", $"Who leads {query}.", null),
        new($"{query} — risks", $"https://analysis.marketlens.com/{Slug(query)}/risks", $"What could go wrong for {query}.", null),
    ];

    /// <summary>Answer with this status instead, when set.</summary>
    public int? FailWith { get; set; }

    /// <summary>Wait this long before answering.</summary>
    public TimeSpan Delay { get; set; }

    public static string Slug(string text) => string.Concat(text.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-')).Trim('-');

    public static async Task<FakeSearchServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeSearchServer(app);
        app.MapGet("/search", server.SearxngAsync);
        app.MapGet("/res/v1/web/search", server.BraveAsync);
        app.MapPost("/search", server.TavilyAsync);
        // Pages for web_fetch: one with a script, and a chain of redirects.
        app.MapGet("/page", () => Results.Content(
            "<html><head><title>Charging report</title><script>window.leak = 'SCRIPT-BODY';</script><style>p{}</style></head>" +
            "<body><nav>Menu</nav><h1>Chargers</h1><p>Europe added fast chargers along highways.</p></body></html>", "text/html"));
        app.MapGet("/redirect/{n:int}", (int n) => n <= 0 ? Results.Redirect("/page") : Results.Redirect($"/redirect/{n - 1}"));
        app.MapGet("/file.zip", () => Results.Bytes([1, 2, 3], "application/zip"));
        await app.StartAsync().ConfigureAwait(false);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    private async Task<bool> RecordAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        Requests.Enqueue(new RecordedRequest(context.Request.Path + context.Request.QueryString, body,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        if (FailWith is { } status)
        {
            context.Response.StatusCode = status;
            await context.Response.WriteAsync("""{"error":"nope"}""", context.RequestAborted);
            return false;
        }

        return true;
    }

    private async Task SearxngAsync(HttpContext context)
    {
        if (!await RecordAsync(context))
        {
            return;
        }

        if (context.Request.Query["format"] != "json")
        {
            context.Response.StatusCode = 403;
            return;
        }

        var query = context.Request.Query["q"].ToString();
        var results = new JsonArray(Hits(query).Select(h => (JsonNode)new JsonObject
        {
            ["url"] = h.Url, ["title"] = h.Title, ["content"] = h.Text, ["engine"] = "duckduckgo", ["engines"] = new JsonArray("duckduckgo"),
            ["score"] = 1.0, ["category"] = "general", ["publishedDate"] = h.Published,
        }).ToArray());
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["query"] = query, ["number_of_results"] = results.Count, ["results"] = results, ["answers"] = new JsonArray(), ["suggestions"] = new JsonArray(),
            ["unresponsive_engines"] = new JsonArray(),
        }, context.RequestAborted);
    }

    private async Task BraveAsync(HttpContext context)
    {
        if (!await RecordAsync(context))
        {
            return;
        }

        if (string.IsNullOrEmpty(context.Request.Headers["X-Subscription-Token"]))
        {
            context.Response.StatusCode = 401;
            return;
        }

        var query = context.Request.Query["q"].ToString();
        var count = int.TryParse(context.Request.Query["count"], out var c) ? c : 20;
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["type"] = "search",
            ["query"] = new JsonObject { ["original"] = query },
            ["web"] = new JsonObject
            {
                ["type"] = "search",
                ["results"] = new JsonArray(Hits(query).Take(count).Select(h => (JsonNode)new JsonObject
                {
                    ["type"] = "search_result", ["title"] = h.Title, ["url"] = h.Url, ["description"] = h.Text, ["page_age"] = h.Published,
                    ["profile"] = new JsonObject { ["name"] = "Example" }, ["language"] = "en",
                }).ToArray()),
            },
        }, context.RequestAborted);
    }

    private async Task TavilyAsync(HttpContext context)
    {
        if (!await RecordAsync(context))
        {
            return;
        }

        var request = Requests.Last().Json;
        if (!context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 401;
            return;
        }

        var query = request["query"]!.GetValue<string>();
        var max = request["max_results"]?.GetValue<int>() ?? 5;
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["query"] = query, ["answer"] = null, ["images"] = new JsonArray(), ["response_time"] = 0.42,
            ["results"] = new JsonArray(Hits(query).Take(max).Select(h => (JsonNode)new JsonObject
            {
                ["title"] = h.Title, ["url"] = h.Url, ["content"] = h.Text, ["score"] = 0.9, ["raw_content"] = null, ["published_date"] = h.Published,
            }).ToArray()),
        }, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
