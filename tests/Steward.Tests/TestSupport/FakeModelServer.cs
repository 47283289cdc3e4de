using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Tests.TestSupport;

/// <summary>A request the fake server received.</summary>
public sealed record RecordedRequest(string Path, string Body, IReadOnlyDictionary<string, string> Headers)
{
    public JsonNode Json => JsonNode.Parse(Body)!;
}

/// <summary>What the fake server answers with.</summary>
public sealed record FakeReply
{
    public IReadOnlyList<string> Chunks { get; init; } = ["Hello", " from", " the fake", " model."];
    public int InputTokens { get; init; } = 12;
    public int CachedInputTokens { get; init; } = 4;
    public int OutputTokens { get; init; } = 7;
    public int ReasoningTokens { get; init; } = 2;
    public TimeSpan DelayBetweenChunks { get; init; } = TimeSpan.Zero;

    /// <summary>After this many chunks, stop sending and hold the connection open until the client goes away.</summary>
    public int? HangAfterChunks { get; init; }

    /// <summary>Answer with this HTTP status and body instead.</summary>
    public (int Status, string Body)? Error { get; init; }

    /// <summary>Call these functions instead of answering (name, JSON arguments); the finish reason is <c>tool_calls</c>.</summary>
    public IReadOnlyList<(string Name, string Arguments)> ToolCalls { get; init; } = [];

    /// <summary>
    /// Responses API only: the provider's own web search ran (a <c>web_search_call</c> output item with this query) and the
    /// answer cites these pages with <c>url_citation</c> annotations, each over the first occurrence of its title in the text.
    /// </summary>
    public (string Query, IReadOnlyList<(string Url, string Title)> Cited)? HostedSearch { get; init; }

    /// <summary>Report no usage at all, as some OpenAI-compatible servers do.</summary>
    public bool OmitUsage { get; init; }

    /// <summary>Stop the stream after the chunks: no finish reason, no usage, no <c>[DONE]</c> (a dropped connection).</summary>
    public bool CutStream { get; init; }

    /// <summary>After the chunks, reset the connection mid-response (a server that crashed, a proxy that gave up).</summary>
    public bool DropConnection { get; init; }

    /// <summary>The finish reason to report (<c>length</c>: cut off at the output cap); default <c>stop</c>.</summary>
    public string FinishReason { get; init; } = "stop";
}

/// <summary>
/// A real HTTP server on a loopback port that speaks the wire formats of OpenAI chat completions (SSE streaming
/// with a usage chunk), the OpenAI Responses API (SSE events) and Ollama's <c>/api/chat</c> (NDJSON), so the
/// provider SDKs run their real code against it.
/// </summary>
public sealed class FakeModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();

    private FakeModelServer(WebApplication app) => _app = app;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Chooses the reply per request; by default a short streamed greeting.</summary>
    public Func<RecordedRequest, FakeReply> Reply { get; set; } = _ => new FakeReply();

    public string BaseUrl { get; private set; } = "";

    /// <summary>The OpenAI-style base URL (<c>…/v1</c>).</summary>
    public string OpenAIUrl => BaseUrl + "/v1";

    /// <param name="configure">More routes on the same server (e.g. a Foundry project's, whose Responses route is this server's).</param>
    public static async Task<FakeModelServer> StartAsync(Action<WebApplication, FakeModelServer>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeModelServer(app);
        app.MapPost("/v1/chat/completions", server.ChatCompletionsAsync);
        app.MapPost("/v1/responses", server.ResponsesAsync);
        app.MapPost("/api/chat", server.OllamaChatAsync);
        // An address that is a web site, not an API (a base URL set to the product's home page): 200 and HTML to anything.
        app.MapPost("/site/{**rest}", context => { context.Response.ContentType = "text/html"; return context.Response.WriteAsync("<!doctype html><html><body>Welcome</body></html>"); });
        app.MapPost("/hooks/{name}", async context => { await server.RecordAsync(context); context.Response.StatusCode = 204; });
        configure?.Invoke(app, server);
        await app.StartAsync().ConfigureAwait(false);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    internal async Task<RecordedRequest> RecordAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        var request = new RecordedRequest(context.Request.Path, body,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        Requests.Enqueue(request);
        return request;
    }

    private async Task ChatCompletionsAsync(HttpContext context)
    {
        var request = await RecordAsync(context).ConfigureAwait(false);
        var reply = Reply(request);
        if (await WriteErrorAsync(context, reply).ConfigureAwait(false))
        {
            return;
        }

        var model = request.Json["model"]?.GetValue<string>() ?? "unknown";
        var usage = new JsonObject
        {
            ["prompt_tokens"] = reply.InputTokens,
            ["completion_tokens"] = reply.OutputTokens,
            ["total_tokens"] = reply.InputTokens + reply.OutputTokens,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = reply.CachedInputTokens },
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reply.ReasoningTokens },
        };

        if (request.Json["stream"]?.GetValue<bool>() != true)
        {
            // A whole answer takes as long to generate as its chunks would take to stream.
            if (reply.DelayBetweenChunks > TimeSpan.Zero && reply.Chunks.Count > 1)
            {
                await Task.Delay(reply.DelayBetweenChunks * (reply.Chunks.Count - 1), context.RequestAborted).ConfigureAwait(false);
            }

            // The whole answer as OpenAI sends it: function calls in the message, content null when there is none.
            var message = new JsonObject
            {
                ["role"] = "assistant", ["content"] = reply.ToolCalls.Count > 0 && reply.Chunks.Count == 0 ? null : string.Concat(reply.Chunks),
            };
            if (reply.ToolCalls.Count > 0)
            {
                message["tool_calls"] = new JsonArray([.. reply.ToolCalls.Select((call, i) => (JsonNode)new JsonObject
                {
                    ["id"] = $"call_{Requests.Count}_{i}", ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = call.Arguments },
                })]);
            }

            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "chatcmpl-fake", ["object"] = "chat.completion", ["created"] = 1_700_000_000, ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["finish_reason"] = reply.ToolCalls.Count > 0 ? "tool_calls" : reply.FinishReason,
                    ["message"] = message,
                }),
                ["usage"] = reply.OmitUsage ? null : usage,
            }, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        JsonObject Chunk(JsonObject delta, string? finish) => new()
        {
            ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };

        if (!await StreamChunksAsync(context, reply, (i, text) => "data: " + Chunk(
                i == 0 ? new JsonObject { ["role"] = "assistant", ["content"] = text } : new JsonObject { ["content"] = text }, null).ToJsonString() + "\n\n").ConfigureAwait(false))
        {
            return;
        }

        if (reply.DropConnection)
        {
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            // Long enough for the client to have read what was sent: a reset that overtakes the data discards it.
            await Task.Delay(300, context.RequestAborted).ConfigureAwait(false);
            context.Abort();
            return;
        }

        if (reply.CutStream)
        {
            // The server goes away mid-answer: the response just ends.
            return;
        }

        for (var i = 0; i < reply.ToolCalls.Count; i++)
        {
            var (name, arguments) = reply.ToolCalls[i];
            await WriteAsync(context, "data: " + Chunk(new JsonObject
            {
                ["role"] = "assistant",
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = i, ["id"] = $"call_{Requests.Count}_{i}", ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
                }),
            }, null).ToJsonString() + "\n\n").ConfigureAwait(false);
        }

        await WriteAsync(context, "data: " + Chunk(new JsonObject(), reply.ToolCalls.Count > 0 ? "tool_calls" : reply.FinishReason).ToJsonString() + "\n\n").ConfigureAwait(false);
        if (!reply.OmitUsage && request.Json["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            await WriteAsync(context, "data: " + new JsonObject
            {
                ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = model,
                ["choices"] = new JsonArray(), ["usage"] = usage,
            }.ToJsonString() + "\n\n").ConfigureAwait(false);
        }

        await WriteAsync(context, "data: [DONE]\n\n").ConfigureAwait(false);
    }

    private async Task ResponsesAsync(HttpContext context)
    {
        var request = await RecordAsync(context).ConfigureAwait(false);
        await WriteResponsesAsync(context, request).ConfigureAwait(false);
    }

    /// <summary>Answers a recorded Responses request with the reply chosen for it, as SSE events or one JSON response.</summary>
    internal async Task WriteResponsesAsync(HttpContext context, RecordedRequest request)
    {
        var reply = Reply(request);
        if (await WriteErrorAsync(context, reply).ConfigureAwait(false))
        {
            return;
        }

        var model = request.Json["model"]?.GetValue<string>() ?? "unknown";
        var text = string.Concat(reply.Chunks);
        JsonArray Annotations() => new(reply.HostedSearch?.Cited.Select(c =>
        {
            var start = Math.Max(0, text.IndexOf(c.Title, StringComparison.Ordinal));
            return (JsonNode)new JsonObject
            {
                ["type"] = "url_citation", ["url"] = c.Url, ["title"] = c.Title, ["start_index"] = start, ["end_index"] = start + c.Title.Length,
            };
        }).ToArray() ?? []);
        JsonObject SearchCall(string status) => new()
        {
            ["type"] = "web_search_call", ["id"] = "ws_fake", ["status"] = status,
            ["action"] = new JsonObject { ["type"] = "search", ["query"] = reply.HostedSearch!.Value.Query },
        };
        JsonObject Message(string status, bool withText) => new()
        {
            ["type"] = "message", ["id"] = "msg_fake", ["status"] = status, ["role"] = "assistant",
            ["content"] = withText
                ? new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = Annotations() })
                : new JsonArray(),
        };
        var searched = reply.HostedSearch is not null;
        JsonObject Response(string status, bool withOutput) => new()
        {
            ["id"] = "resp_fake", ["object"] = "response", ["created_at"] = 1_700_000_000, ["status"] = status, ["model"] = model,
            ["output"] = withOutput
                ? (searched ? new JsonArray(SearchCall("completed"), Message("completed", true)) : new JsonArray(Message("completed", true)))
                : new JsonArray(),
            ["parallel_tool_calls"] = true, ["tool_choice"] = "auto", ["tools"] = new JsonArray(),
            ["usage"] = withOutput
                ? new JsonObject
                {
                    ["input_tokens"] = reply.InputTokens, ["output_tokens"] = reply.OutputTokens, ["total_tokens"] = reply.InputTokens + reply.OutputTokens,
                    ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = reply.CachedInputTokens },
                    ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reply.ReasoningTokens },
                }
                : null,
        };

        if (request.Json["stream"]?.GetValue<bool>() != true)
        {
            await context.Response.WriteAsJsonAsync(Response("completed", true), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var sequence = 0;
        string Event(string type, JsonObject data)
        {
            data["type"] = type;
            data["sequence_number"] = sequence++;
            return $"event: {type}\ndata: {data.ToJsonString()}\n\n";
        }

        await WriteAsync(context, Event("response.created", new JsonObject { ["response"] = Response("in_progress", false) })).ConfigureAwait(false);
        var messageIndex = 0;
        if (searched)
        {
            await WriteAsync(context, Event("response.output_item.added", new JsonObject { ["output_index"] = 0, ["item"] = SearchCall("in_progress") })).ConfigureAwait(false);
            await WriteAsync(context, Event("response.web_search_call.in_progress", new JsonObject { ["output_index"] = 0, ["item_id"] = "ws_fake" })).ConfigureAwait(false);
            await WriteAsync(context, Event("response.web_search_call.searching", new JsonObject { ["output_index"] = 0, ["item_id"] = "ws_fake" })).ConfigureAwait(false);
            await WriteAsync(context, Event("response.web_search_call.completed", new JsonObject { ["output_index"] = 0, ["item_id"] = "ws_fake" })).ConfigureAwait(false);
            await WriteAsync(context, Event("response.output_item.done", new JsonObject { ["output_index"] = 0, ["item"] = SearchCall("completed") })).ConfigureAwait(false);
            messageIndex = 1;
            await WriteAsync(context, Event("response.output_item.added", new JsonObject { ["output_index"] = messageIndex, ["item"] = Message("in_progress", false) })).ConfigureAwait(false);
        }

        if (!await StreamChunksAsync(context, reply, (_, chunk) => Event("response.output_text.delta", new JsonObject
            {
                ["item_id"] = "msg_fake", ["output_index"] = messageIndex, ["content_index"] = 0, ["delta"] = chunk,
            })).ConfigureAwait(false))
        {
            return;
        }

        if (searched)
        {
            var index = 0;
            foreach (var annotation in Annotations())
            {
                await WriteAsync(context, Event("response.output_text.annotation.added", new JsonObject
                {
                    ["item_id"] = "msg_fake", ["output_index"] = messageIndex, ["content_index"] = 0, ["annotation_index"] = index++, ["annotation"] = annotation!.DeepClone(),
                })).ConfigureAwait(false);
            }

            await WriteAsync(context, Event("response.output_text.done", new JsonObject
            {
                ["item_id"] = "msg_fake", ["output_index"] = messageIndex, ["content_index"] = 0, ["text"] = text,
            })).ConfigureAwait(false);
            await WriteAsync(context, Event("response.output_item.done", new JsonObject { ["output_index"] = messageIndex, ["item"] = Message("completed", true) })).ConfigureAwait(false);
        }

        await WriteAsync(context, Event("response.completed", new JsonObject { ["response"] = Response("completed", true) })).ConfigureAwait(false);
    }

    private async Task OllamaChatAsync(HttpContext context)
    {
        var request = await RecordAsync(context).ConfigureAwait(false);
        var reply = Reply(request);
        if (await WriteErrorAsync(context, reply).ConfigureAwait(false))
        {
            return;
        }

        var model = request.Json["model"]?.GetValue<string>() ?? "unknown";
        context.Response.ContentType = "application/x-ndjson";
        if (!await StreamChunksAsync(context, reply, (_, chunk) => new JsonObject
            {
                ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = chunk }, ["done"] = false,
            }.ToJsonString() + "\n").ConfigureAwait(false))
        {
            return;
        }

        await WriteAsync(context, new JsonObject
        {
            ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z",
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "" },
            ["done"] = true, ["done_reason"] = "stop", ["total_duration"] = 1000, ["load_duration"] = 10,
            ["prompt_eval_count"] = reply.InputTokens, ["prompt_eval_duration"] = 100, ["eval_count"] = reply.OutputTokens, ["eval_duration"] = 100,
        }.ToJsonString() + "\n").ConfigureAwait(false);
    }

    private static async Task<bool> WriteErrorAsync(HttpContext context, FakeReply reply)
    {
        if (reply.Error is not { } error)
        {
            return false;
        }

        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(error.Body, context.RequestAborted).ConfigureAwait(false);
        return true;
    }

    /// <summary>Writes the chunks; returns false when the reply hangs (the client is expected to give up).</summary>
    private async Task<bool> StreamChunksAsync(HttpContext context, FakeReply reply, Func<int, string, string> format)
    {
        for (var i = 0; i < reply.Chunks.Count; i++)
        {
            if (reply.HangAfterChunks is { } hang && i >= hang)
            {
                try
                {
                    using var held = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                    await Task.Delay(Timeout.Infinite, held.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                return false;
            }

            if (i > 0 && reply.DelayBetweenChunks > TimeSpan.Zero)
            {
                await Task.Delay(reply.DelayBetweenChunks, context.RequestAborted).ConfigureAwait(false);
            }

            await WriteAsync(context, format(i, reply.Chunks[i])).ConfigureAwait(false);
        }

        return true;
    }

    private static async Task WriteAsync(HttpContext context, string text)
    {
        await context.Response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A script for a tool loop: call <paramref name="tool"/> until the model has a tool result, then answer.</summary>
    public static Func<RecordedRequest, FakeReply> CallToolThenAnswer(string tool, string arguments, params string[] answer) =>
        request => HasToolResult(request)
            ? new FakeReply { Chunks = answer.Length > 0 ? answer : ["Done."] }
            : new FakeReply { Chunks = [], ToolCalls = [(tool, arguments)] };

    /// <summary>Whether the request carries a tool's result.</summary>
    public static bool HasToolResult(RecordedRequest request) =>
        request.Json["messages"]!.AsArray().Any(m => m!["role"]!.GetValue<string>() == "tool");

    /// <summary>The (single) tool result the model was sent in the last request.</summary>
    public string LastToolResult() =>
        Requests.Last().Json["messages"]!.AsArray().Single(m => m!["role"]!.GetValue<string>() == "tool")!["content"]!.ToString();

    public static string OpenAIError(string message, string type, string? code = null) =>
        JsonSerializer.Serialize(new { error = new { message, type, code, param = (string?)null } });

    public async ValueTask DisposeAsync()
    {
        // Release hung replies first, or shutdown waits for them.
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
