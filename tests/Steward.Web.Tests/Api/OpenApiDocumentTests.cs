using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.Api;

/// <summary>The OpenAPI document at <c>/api/openapi/v1.json</c>, read over HTTP from the running app.</summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private GatewayApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await GatewayApp.StartAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Document_ListsEveryApiAndGatewayRouteTheAppMaps()
    {
        using var http = ApiApp.Client(_app);

        var document = await ApiApp.ReadJsonAsync(await http.GetAsync("/api/openapi/v1.json", TestContext.Current.CancellationToken));

        var paths = document["paths"]!.AsObject();
        var documented = paths.SelectMany(p => p.Value!.AsObject().Select(m => $"{m.Key.ToUpperInvariant()} {p.Key}")).ToHashSet();
        var mapped = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && (raw.StartsWith("/api/", StringComparison.Ordinal) || raw.StartsWith("/v1/", StringComparison.Ordinal))
                && !raw.Contains("{*", StringComparison.Ordinal) && !raw.StartsWith("/api/docs", StringComparison.Ordinal) && !raw.StartsWith("/api/openapi", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => $"{m} {Normalize(e.RoutePattern.RawText!)}"))
            .ToHashSet();
        Assert.True(mapped.Count >= 20, string.Join(", ", mapped));
        Assert.Empty(mapped.Except(documented));
        Assert.Equal("Steward API", document["info"]!["title"]!.GetValue<string>());
        var start = paths["/api/runs"]!["post"]!;
        Assert.NotNull(start["requestBody"]!["content"]!["application/json"]);
        Assert.NotNull(start["responses"]!["202"]);
        Assert.NotNull(paths["/api/runs/{id}/events"]!["get"]!["responses"]!["200"]!["content"]!["text/event-stream"]);
    }

    /// <summary>"/api/runs/" as the document writes it ("/api/runs").</summary>
    private static string Normalize(string pattern) => pattern.Length > 1 ? pattern.TrimEnd('/') : pattern;
}
