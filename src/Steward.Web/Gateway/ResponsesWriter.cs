using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.Agents;

namespace Steward.Web.Gateway;

/// <summary>Writes a run's answer as a Responses API <c>response</c> object, or as its stream of typed events.</summary>
internal static class ResponsesWriter
{
    public static string Id(Guid runId) => "resp_" + runId.ToString("N");

    private static string MessageId(Guid runId) => "msg_" + runId.ToString("N");

    /// <summary>The whole answer as one <c>response</c> object.</summary>
    public static async Task WriteAsync(HttpResponse http, AgentResponse response, string model, long created)
    {
        http.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(http.BodyWriter, GatewayError.JsonOptions);
        WriteResponse(json, response.RunId, model, created, response);
        await json.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>A <c>response</c> object: in progress (no <paramref name="response"/>) or finished.</summary>
    private static void WriteResponse(Utf8JsonWriter json, Guid runId, string model, long created, AgentResponse? response, GatewayError? error = null)
    {
        var status = error is not null ? "failed" : response is null ? "in_progress" : response.FinishReason == "length" && response.FunctionCalls.Count == 0 ? "incomplete" : "completed";
        json.WriteStartObject();
        json.WriteString("id", Id(runId));
        json.WriteString("object", "response");
        json.WriteNumber("created_at", created);
        json.WriteString("status", status);
        json.WriteString("model", model);
        json.WriteStartArray("output");
        if (response is not null && error is null)
        {
            if (response.Text.Length > 0 || response.FunctionCalls.Count == 0)
            {
                WriteMessage(json, runId, response.Text, "completed");
            }

            foreach (var call in response.FunctionCalls)
            {
                WriteFunctionCall(json, call, "completed");
            }
        }

        json.WriteEndArray();
        json.WriteBoolean("parallel_tool_calls", true);
        json.WriteString("tool_choice", "auto");
        json.WriteStartArray("tools");
        json.WriteEndArray();
        if (error is not null)
        {
            json.WriteStartObject("error");
            json.WriteString("code", error.Code);
            json.WriteString("message", error.Message);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("error");
        }

        if (status == "incomplete")
        {
            json.WriteStartObject("incomplete_details");
            json.WriteString("reason", "max_output_tokens");
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("incomplete_details");
        }

        if (response is not null && error is null)
        {
            var usage = response.Usage;
            json.WriteStartObject("usage");
            json.WriteNumber("input_tokens", usage.InputTokens);
            json.WriteStartObject("input_tokens_details");
            json.WriteNumber("cached_tokens", usage.CachedInputTokens);
            json.WriteEndObject();
            json.WriteNumber("output_tokens", usage.OutputTokens);
            json.WriteStartObject("output_tokens_details");
            json.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
            json.WriteEndObject();
            json.WriteNumber("total_tokens", usage.TotalTokens);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("usage");
        }

        json.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter json, Guid runId, string text, string status, bool withContent = true)
    {
        json.WriteStartObject();
        json.WriteString("type", "message");
        json.WriteString("id", MessageId(runId));
        json.WriteString("status", status);
        json.WriteString("role", "assistant");
        json.WriteStartArray("content");
        if (withContent)
        {
            WriteTextPart(json, text);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteTextPart(Utf8JsonWriter json, string text)
    {
        json.WriteStartObject();
        json.WriteString("type", "output_text");
        json.WriteString("text", text);
        json.WriteStartArray("annotations");
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteFunctionCall(Utf8JsonWriter json, FunctionCallContent call, string status, bool withArguments = true)
    {
        json.WriteStartObject();
        json.WriteString("type", "function_call");
        json.WriteString("id", "fc_" + call.CallId);
        json.WriteString("call_id", call.CallId);
        json.WriteString("name", call.Name);
        json.WriteString("arguments", withArguments ? ChatCompletionsWriter.ArgumentsJson(call) : "");
        json.WriteString("status", status);
        json.WriteEndObject();
    }

    /// <summary>
    /// One streamed response: <c>response.created</c>, the message item and its text deltas, the caller's function calls
    /// as items of their own, then <c>response.completed</c> (or <c>response.incomplete</c>, <c>response.failed</c>).
    /// </summary>
    internal sealed class Stream(HttpResponse http, string model, long created) : IGatewayStream
    {
        private readonly System.Text.StringBuilder _text = new();
        private Guid _runId;
        private int _sequence;
        private bool _messageOpen;

        public bool Started { get; private set; }

        public async ValueTask StartAsync(Guid runId)
        {
            if (Started)
            {
                return;
            }

            Started = true;
            _runId = runId;
            ChatCompletionsWriter.SseHeaders(http);
            await EventAsync("response.created", json => WriteResponseProperty(json, null)).ConfigureAwait(false);
            await EventAsync("response.in_progress", json => WriteResponseProperty(json, null)).ConfigureAwait(false);
        }

        public async ValueTask DeltaAsync(string text)
        {
            await OpenMessageAsync().ConfigureAwait(false);
            _text.Append(text);
            await EventAsync("response.output_text.delta", json =>
            {
                json.WriteString("item_id", MessageId(_runId));
                json.WriteNumber("output_index", 0);
                json.WriteNumber("content_index", 0);
                json.WriteString("delta", text);
                json.WriteStartArray("logprobs");
                json.WriteEndArray();
            }).ConfigureAwait(false);
        }

        private async ValueTask OpenMessageAsync()
        {
            if (_messageOpen)
            {
                return;
            }

            _messageOpen = true;
            await EventAsync("response.output_item.added", json =>
            {
                json.WriteNumber("output_index", 0);
                json.WritePropertyName("item");
                WriteMessage(json, _runId, "", "in_progress", withContent: false);
            }).ConfigureAwait(false);
            await EventAsync("response.content_part.added", json =>
            {
                json.WriteString("item_id", MessageId(_runId));
                json.WriteNumber("output_index", 0);
                json.WriteNumber("content_index", 0);
                json.WritePropertyName("part");
                WriteTextPart(json, "");
            }).ConfigureAwait(false);
        }

        public async ValueTask FinishAsync(AgentResponse response)
        {
            if (response.Text.Length > 0 || response.FunctionCalls.Count == 0)
            {
                await OpenMessageAsync().ConfigureAwait(false);
            }

            var index = 0;
            if (_messageOpen)
            {
                var text = _text.ToString();
                await EventAsync("response.output_text.done", json =>
                {
                    json.WriteString("item_id", MessageId(_runId));
                    json.WriteNumber("output_index", 0);
                    json.WriteNumber("content_index", 0);
                    json.WriteString("text", text);
                    json.WriteStartArray("logprobs");
                    json.WriteEndArray();
                }).ConfigureAwait(false);
                await EventAsync("response.content_part.done", json =>
                {
                    json.WriteString("item_id", MessageId(_runId));
                    json.WriteNumber("output_index", 0);
                    json.WriteNumber("content_index", 0);
                    json.WritePropertyName("part");
                    WriteTextPart(json, text);
                }).ConfigureAwait(false);
                await EventAsync("response.output_item.done", json =>
                {
                    json.WriteNumber("output_index", 0);
                    json.WritePropertyName("item");
                    WriteMessage(json, _runId, text, "completed");
                }).ConfigureAwait(false);
                index = 1;
            }

            foreach (var call in response.FunctionCalls)
            {
                var at = index++;
                var arguments = ChatCompletionsWriter.ArgumentsJson(call);
                await EventAsync("response.output_item.added", json =>
                {
                    json.WriteNumber("output_index", at);
                    json.WritePropertyName("item");
                    WriteFunctionCall(json, call, "in_progress", withArguments: false);
                }).ConfigureAwait(false);
                await EventAsync("response.function_call_arguments.delta", json =>
                {
                    json.WriteString("item_id", "fc_" + call.CallId);
                    json.WriteNumber("output_index", at);
                    json.WriteString("delta", arguments);
                }).ConfigureAwait(false);
                await EventAsync("response.function_call_arguments.done", json =>
                {
                    json.WriteString("item_id", "fc_" + call.CallId);
                    json.WriteNumber("output_index", at);
                    json.WriteString("arguments", arguments);
                }).ConfigureAwait(false);
                await EventAsync("response.output_item.done", json =>
                {
                    json.WriteNumber("output_index", at);
                    json.WritePropertyName("item");
                    WriteFunctionCall(json, call, "completed");
                }).ConfigureAwait(false);
            }

            var incomplete = response.FinishReason == "length" && response.FunctionCalls.Count == 0;
            // The last event carries the run's cost in a field the SDKs ignore.
            await EventAsync(incomplete ? "response.incomplete" : "response.completed", json =>
            {
                WriteResponseProperty(json, response);
                GatewayRuns.WriteStewardField(json, response);
            }).ConfigureAwait(false);
        }

        /// <summary>The run failed after the stream began: <c>response.failed</c> carries the error.</summary>
        public ValueTask FailAsync(GatewayError error, AgentResponse response) => EventAsync("response.failed", json =>
        {
            json.WritePropertyName("response");
            WriteResponse(json, _runId, model, created, null, error);
            GatewayRuns.WriteStewardField(json, response);
        });

        private void WriteResponseProperty(Utf8JsonWriter json, AgentResponse? response)
        {
            json.WritePropertyName("response");
            WriteResponse(json, _runId, model, created, response);
        }

        private ValueTask EventAsync(string type, Action<Utf8JsonWriter> body) => ChatCompletionsWriter.WriteEventAsync(http, json =>
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteNumber("sequence_number", _sequence++);
            body(json);
            json.WriteEndObject();
        }, type);
    }
}
