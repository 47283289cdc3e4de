using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.Agents;

namespace Steward.Web.Gateway;

/// <summary>Writes a run's answer as OpenAI's <c>chat.completion</c> object, or as a stream of <c>chat.completion.chunk</c> events.</summary>
internal static class ChatCompletionsWriter
{
    public static string Id(Guid runId) => "chatcmpl-" + runId.ToString("N");

    /// <summary>The whole answer as one <c>chat.completion</c>.</summary>
    public static async Task WriteAsync(HttpResponse http, AgentResponse response, string model, long created)
    {
        http.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(http.BodyWriter, GatewayError.JsonOptions);
        json.WriteStartObject();
        json.WriteString("id", Id(response.RunId));
        json.WriteString("object", "chat.completion");
        json.WriteNumber("created", created);
        json.WriteString("model", model);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        if (response.Text.Length == 0 && response.FunctionCalls.Count > 0)
        {
            json.WriteNull("content");
        }
        else
        {
            json.WriteString("content", response.Text);
        }

        json.WriteNull("refusal");
        if (response.FunctionCalls.Count > 0)
        {
            json.WriteStartArray("tool_calls");
            foreach (var call in response.FunctionCalls)
            {
                WriteToolCall(json, call, index: null);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", FinishReason(response));
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, response.Usage);
        json.WriteEndObject();
        await json.FlushAsync().ConfigureAwait(false);
    }

    public static string FinishReason(AgentResponse response) =>
        response.FunctionCalls.Count > 0 ? "tool_calls"
        : response.FinishReason is "length" or "content_filter" ? response.FinishReason
        : "stop";

    public static void WriteUsage(Utf8JsonWriter json, RunUsage usage)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", usage.InputTokens);
        json.WriteNumber("completion_tokens", usage.OutputTokens);
        json.WriteNumber("total_tokens", usage.TotalTokens);
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("cached_tokens", usage.CachedInputTokens);
        json.WriteEndObject();
        json.WriteStartObject("completion_tokens_details");
        json.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteToolCall(Utf8JsonWriter json, FunctionCallContent call, int? index)
    {
        json.WriteStartObject();
        if (index is { } i)
        {
            json.WriteNumber("index", i);
        }

        json.WriteString("id", call.CallId);
        json.WriteString("type", "function");
        json.WriteStartObject("function");
        json.WriteString("name", call.Name);
        json.WriteString("arguments", ArgumentsJson(call));
        json.WriteEndObject();
        json.WriteEndObject();
    }

    public static string ArgumentsJson(FunctionCallContent call) =>
        JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));

    /// <summary>One streamed answer: a role chunk first, then text deltas, the caller's tool calls, the finish and (if asked) usage.</summary>
    internal sealed class Stream(HttpResponse http, string model, long created, bool includeUsage) : IGatewayStream
    {
        private string _id = "";

        public bool Started { get; private set; }

        public async ValueTask StartAsync(Guid runId)
        {
            if (Started)
            {
                return;
            }

            Started = true;
            _id = Id(runId);
            SseHeaders(http);
            await ChunkAsync(json =>
            {
                json.WriteStartObject("delta");
                json.WriteString("role", "assistant");
                json.WriteString("content", "");
                json.WriteEndObject();
            }, finish: null).ConfigureAwait(false);
        }

        public ValueTask DeltaAsync(string text) => ChunkAsync(json =>
        {
            json.WriteStartObject("delta");
            json.WriteString("content", text);
            json.WriteEndObject();
        }, finish: null);

        /// <summary>Mid-stream, the status is sent already: the error is the stream's last event, as OpenAI sends it.</summary>
        public ValueTask FailAsync(GatewayError error, AgentResponse response) =>
            WriteEventAsync(http, json => error.WriteBody(json, more => GatewayRuns.WriteStewardField(more, response)));

        public async ValueTask FinishAsync(AgentResponse response)
        {
            if (response.FunctionCalls.Count > 0)
            {
                await ChunkAsync(json =>
                {
                    json.WriteStartObject("delta");
                    json.WriteStartArray("tool_calls");
                    for (var i = 0; i < response.FunctionCalls.Count; i++)
                    {
                        WriteToolCall(json, response.FunctionCalls[i], i);
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                }, finish: null).ConfigureAwait(false);
            }

            // The last chunk carries the run's cost in a field the SDKs ignore (the finish chunk, or the usage chunk after it).
            await ChunkAsync(json => json.WriteStartObject("delta"), FinishReason(response), endDelta: true, last: includeUsage ? null : response).ConfigureAwait(false);
            if (includeUsage)
            {
                await WriteEventAsync(http, json =>
                {
                    json.WriteStartObject();
                    Envelope(json);
                    json.WriteStartArray("choices");
                    json.WriteEndArray();
                    WriteUsage(json, response.Usage);
                    GatewayRuns.WriteStewardField(json, response);
                    json.WriteEndObject();
                }).ConfigureAwait(false);
            }

            await DoneAsync(http).ConfigureAwait(false);
        }

        private void Envelope(Utf8JsonWriter json)
        {
            json.WriteString("id", _id);
            json.WriteString("object", "chat.completion.chunk");
            json.WriteNumber("created", created);
            json.WriteString("model", model);
        }

        private ValueTask ChunkAsync(Action<Utf8JsonWriter> delta, string? finish, bool endDelta = false, AgentResponse? last = null) => WriteEventAsync(http, json =>
        {
            json.WriteStartObject();
            Envelope(json);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            delta(json);
            if (endDelta)
            {
                json.WriteEndObject();
            }

            json.WriteNull("logprobs");
            if (finish is null)
            {
                json.WriteNull("finish_reason");
            }
            else
            {
                json.WriteString("finish_reason", finish);
            }

            json.WriteEndObject();
            json.WriteEndArray();
            if (last is not null)
            {
                GatewayRuns.WriteStewardField(json, last);
            }

            json.WriteEndObject();
        });
    }

    public static void SseHeaders(HttpResponse http)
    {
        http.StatusCode = StatusCodes.Status200OK;
        http.ContentType = "text/event-stream; charset=utf-8";
        http.Headers.CacheControl = "no-cache";
        // Proxies (nginx) must pass each event on as it comes.
        http.Headers["X-Accel-Buffering"] = "no";
    }

    /// <summary>One <c>data: {json}</c> event, flushed.</summary>
    public static async ValueTask WriteEventAsync(HttpResponse http, Action<Utf8JsonWriter> write, string? eventName = null)
    {
        var pipe = http.BodyWriter;
        if (eventName is not null)
        {
            pipe.Write(System.Text.Encoding.UTF8.GetBytes("event: " + eventName + "\n"));
        }

        pipe.Write("data: "u8);
        using (var json = new Utf8JsonWriter(pipe, GatewayError.JsonOptions))
        {
            write(json);
        }

        pipe.Write("\n\n"u8);
        await pipe.FlushAsync(http.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    public static async ValueTask DoneAsync(HttpResponse http)
    {
        http.BodyWriter.Write("data: [DONE]\n\n"u8);
        await http.BodyWriter.FlushAsync(http.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
