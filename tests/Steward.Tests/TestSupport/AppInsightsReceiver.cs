using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Tests.TestSupport;

/// <summary>
/// An Application Insights ingestion endpoint on a loopback port: accepts the Azure Monitor exporter's
/// <c>POST /v2.1/track</c> (gzip-compressed, one JSON envelope a line) and answers as the service does
/// (<c>itemsReceived</c>, <c>itemsAccepted</c>, no errors), keeping every envelope.
/// </summary>
public sealed class AppInsightsReceiver : IAsyncDisposable
{
    public const string InstrumentationKey = "00000000-0000-0000-0000-0000000c0ffe";
    private readonly WebApplication _app;

    private AppInsightsReceiver(WebApplication app) => _app = app;

    /// <summary>Every telemetry item received, as its envelope (<c>name</c>, <c>iKey</c>, <c>tags</c>, <c>data.baseType</c>, <c>data.baseData</c>).</summary>
    public ConcurrentQueue<JsonObject> Items { get; } = new();

    public string BaseUrl { get; private set; } = "";

    /// <summary>The connection string pointing the exporter here.</summary>
    public string ConnectionString => $"InstrumentationKey={InstrumentationKey};IngestionEndpoint={BaseUrl}/";

    public static async Task<AppInsightsReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new AppInsightsReceiver(app);
        app.MapPost("/v2.1/track", (Delegate)receiver.TrackAsync);
        app.MapPost("/v2/track", (Delegate)receiver.TrackAsync);
        await app.StartAsync().ConfigureAwait(false);
        receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return receiver;
    }

    private async Task<IResult> TrackAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        buffer.Position = 0;
        var gzip = context.Request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        using var body = gzip ? (Stream)new GZipStream(buffer, CompressionMode.Decompress) : buffer;
        using var reader = new StreamReader(body);
        var count = 0;
        while (await reader.ReadLineAsync(context.RequestAborted).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                Items.Enqueue(JsonNode.Parse(line)!.AsObject());
                count++;
            }
        }

        return Results.Json(new { itemsReceived = count, itemsAccepted = count, errors = Array.Empty<object>() });
    }

    /// <summary>Waits until the items received satisfy <paramref name="done"/>.</summary>
    public async Task<IReadOnlyList<JsonObject>> WaitAsync(Func<IReadOnlyList<JsonObject>, bool> done, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var items = Items.ToArray();
            if (done(items) || DateTime.UtcNow > until)
            {
                return items;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
