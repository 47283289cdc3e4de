using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Steward.LocalModels.Tests.Models;

/// <summary>A real Kestrel server on a loopback port whose behaviour each test scripts per request.</summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private LoopbackServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The Range header of each request, in order ("" when there was none).</summary>
    public ConcurrentQueue<string> RangeHeaders { get; } = new();

    public int RequestCount => Volatile.Read(ref _requests);

    public Uri Url(string path) => new(new Uri(_app.Urls.First()), path);

    /// <param name="handler">Gets the context and the 1-based request number.</param>
    public static async Task<LoopbackServer> StartAsync(Func<HttpContext, int, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new LoopbackServer(app);
        app.Run(context =>
        {
            server.RangeHeaders.Enqueue(context.Request.Headers.Range.ToString());
            server.IfRangeHeaders.Enqueue(context.Request.Headers.IfRange.ToString());
            return handler(context, Interlocked.Increment(ref server._requests));
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        return server;
    }

    /// <summary>The If-Range header of each request, in order ("" when there was none).</summary>
    public ConcurrentQueue<string> IfRangeHeaders { get; } = new();

    /// <summary>
    /// Serves <paramref name="content"/> honouring a "bytes=N-" Range with 206, as Hugging Face's CDN does, unless
    /// an If-Range names another ETag than <paramref name="etag"/> (then the whole file, 200).
    /// </summary>
    public static async Task ServeAsync(HttpContext context, byte[] content, bool honourRange = true, string? etag = null)
    {
        var range = context.Request.Headers.Range.ToString();
        var ifRange = context.Request.Headers.IfRange.ToString();
        var from = 0L;
        if (etag is not null)
        {
            context.Response.Headers.ETag = etag;
        }

        var rangeStillValid = ifRange.Length == 0 || ifRange == etag;
        if (honourRange && rangeStillValid && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            context.Response.StatusCode = StatusCodes.Status206PartialContent;
            context.Response.Headers.ContentRange = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }

        context.Response.ContentLength = content.Length - from;
        await context.Response.Body.WriteAsync(content.AsMemory((int)from), context.RequestAborted);
    }

    /// <summary>Announces the whole file, sends the first <paramref name="bytes"/>, then drops the connection.</summary>
    public static async Task ServeThenCutAsync(HttpContext context, byte[] content, int bytes, string? etag = null)
    {
        if (etag is not null)
        {
            context.Response.Headers.ETag = etag;
        }

        context.Response.ContentLength = content.Length;
        await context.Response.Body.WriteAsync(content.AsMemory(0, bytes), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        await Task.Delay(100, context.RequestAborted);
        context.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
