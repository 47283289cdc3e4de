using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Gateway.Bench;

/// <summary>
/// An OpenAI chat-completions server that answers at once with the same small completion (12 prompt and 7 output tokens):
/// the upstream every gateway calls, and that the load generator calls directly for the baseline.
/// </summary>
internal sealed class InstantUpstream : IAsyncDisposable
{
    private static readonly byte[] Completion = Encoding.UTF8.GetBytes("""
        {"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the instant upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}
        """);

    // The same answer streamed (with stream_options.include_usage honoured as OpenAI does: a last chunk with usage).
    private static readonly byte[] Streamed = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello from the instant upstream.\"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n" +
        "data: [DONE]\n\n");

    private static readonly byte[] StreamTrue = Encoding.UTF8.GetBytes("\"stream\":true");

    private readonly WebApplication _app;

    private InstantUpstream(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The OpenAI-style base URL (…/v1).</summary>
    public string Url { get; }

    public long Requests => Interlocked.Read(ref _requests);

    private static long _requests;

    public static async Task<InstantUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", async context =>
        {
            Interlocked.Increment(ref _requests);
            // Read the body as a real server does; the answer depends only on whether a stream was asked for.
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var stream = body.GetBuffer().AsSpan(0, (int)body.Length).IndexOf(StreamTrue) >= 0;
            var answer = stream ? Streamed : Completion;
            context.Response.ContentType = stream ? "text/event-stream" : "application/json";
            context.Response.ContentLength = answer.Length;
            await context.Response.Body.WriteAsync(answer, context.RequestAborted);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return new InstantUpstream(app, address + "/v1");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
