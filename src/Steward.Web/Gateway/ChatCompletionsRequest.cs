using System.Text.Json;
using Microsoft.Extensions.AI;
using static Steward.Web.Gateway.JsonFields;

namespace Steward.Web.Gateway;

/// <summary>
/// A <c>POST /v1/chat/completions</c> body read into the engine's terms: the conversation as <see cref="ChatMessage"/>s
/// and the options as <see cref="ChatOptions"/>. Fields OpenAI defines but Steward cannot honour (<c>n</c> above 1,
/// log probabilities, audio, the deprecated <c>functions</c>) are refused by name rather than ignored; fields OpenAI does
/// not define are refused as OpenAI refuses them.
/// </summary>
internal sealed record ChatCompletionsRequest(
    string Model, IReadOnlyList<ChatMessage> Messages, ChatOptions Options, int? MaxOutputTokens, bool Stream, bool IncludeUsage)
{
    /// <summary>Who the run is for: the request's <c>user</c> (or <c>safety_identifier</c>).</summary>
    public string? UserId { get; init; }

    /// <summary>The request's <c>metadata</c> pairs as the run's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    // Accepted and without effect on the answer: who the end user is and the caller's metadata (both stored with the run as its
    // user id and tags), storage and routing hints for OpenAI's own service.
    private static readonly HashSet<string> Ignored = ["user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"];

    public static ChatCompletionsRequest Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw GatewayError.BadRequest("The request body must be a JSON object.");
        }

        string? model = null;
        IReadOnlyList<ChatMessage>? messages = null;
        var options = new ChatOptions();
        int? maxTokens = null;
        var stream = false;
        var includeUsage = false;
        JsonElement? toolChoice = null;
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "model": model = String(value, "model"); break;
                case "messages": messages = ReadMessages(value); break;
                case "stream": stream = !IsNull(value) && Bool(value, "stream"); break;
                case "stream_options":
                    if (!IsNull(value))
                    {
                        foreach (var o in Object(value, "stream_options").EnumerateObject())
                        {
                            includeUsage = o.Name switch
                            {
                                "include_usage" => Bool(o.Value, "stream_options.include_usage"),
                                "include_obfuscation" => includeUsage,
                                _ => throw UnknownParameter("stream_options." + o.Name),
                            };
                        }
                    }

                    break;
                case "n":
                    if (!IsNull(value) && Integer(value, "n", 1, 128) != 1)
                    {
                        throw Unsupported("n", "Steward answers with one choice: 'n' must be 1. Send several requests for several answers.");
                    }

                    break;
                case "temperature": options.Temperature = IsNull(value) ? null : Number(value, "temperature", 0, 2); break;
                case "top_p": options.TopP = IsNull(value) ? null : Number(value, "top_p", 0, 1); break;
                case "presence_penalty": options.PresencePenalty = IsNull(value) ? null : Number(value, "presence_penalty", -2, 2); break;
                case "frequency_penalty": options.FrequencyPenalty = IsNull(value) ? null : Number(value, "frequency_penalty", -2, 2); break;
                case "seed": options.Seed = IsNull(value) ? null : Long(value, "seed"); break;
                case "max_tokens" or "max_completion_tokens":
                    maxTokens = IsNull(value) ? maxTokens : Integer(value, property.Name, 1);
                    break;
                case "stop": options.StopSequences = IsNull(value) ? null : ReadStop(value); break;
                case "tools": options.Tools = IsNull(value) ? null : ReadTools(value); break;
                case "tool_choice": toolChoice = IsNull(value) ? null : value; break;
                case "parallel_tool_calls": options.AllowMultipleToolCalls = IsNull(value) ? null : Bool(value, "parallel_tool_calls"); break;
                case "response_format": options.ResponseFormat = IsNull(value) ? null : ReadResponseFormat(value); break;
                case "reasoning_effort": options.Reasoning = IsNull(value) ? null : new ReasoningOptions { Effort = ReadEffort(value) }; break;
                case "logprobs":
                    if (!IsNull(value) && Bool(value, "logprobs"))
                    {
                        throw Unsupported("logprobs", "Steward does not return log probabilities: leave out 'logprobs'.");
                    }

                    break;
                case "top_logprobs" or "logit_bias" or "audio" or "prediction" or "web_search_options":
                    if (!IsNull(value))
                    {
                        throw Unsupported(property.Name, $"Steward does not support '{property.Name}'; leave it out.");
                    }

                    break;
                case "modalities":
                    if (!IsNull(value) && Array(value, "modalities").EnumerateArray().Any(m => m.ValueKind != JsonValueKind.String || m.GetString() != "text"))
                    {
                        throw Unsupported("modalities", "Steward answers with text only: 'modalities' may only be [\"text\"].");
                    }

                    break;
                case "functions" or "function_call":
                    throw Unsupported(property.Name, $"'{property.Name}' is deprecated; send 'tools' and 'tool_choice' instead.");
                case "verbosity":
                    break;
                default:
                    if (!Ignored.Contains(property.Name))
                    {
                        throw UnknownParameter(property.Name);
                    }

                    break;
            }
        }

        var (name, conversation) = RequireModelAnd(model, messages, "messages");
        if (toolChoice is { } choice)
        {
            options.ToolMode = ToolChoice(choice, options.Tools,
                c => String(Required(Object(Required(c, "function", "tool_choice.function"), "tool_choice.function"), "name", "tool_choice.function.name"), "tool_choice.function.name"));
        }

        var (userId, tags) = JsonFields.RunMetadata(root);
        return new ChatCompletionsRequest(name, conversation, options, maxTokens, stream, includeUsage) { UserId = userId, Tags = tags };
    }

    private static GatewayError UnknownParameter(string name) => GatewayError.UnknownParameter(name);

    private static GatewayError Unsupported(string name, string message) => GatewayError.Unsupported(name, message);

    private static List<ChatMessage> ReadMessages(JsonElement value)
    {
        var list = new List<ChatMessage>();
        var index = 0;
        foreach (var item in Array(value, "messages").EnumerateArray())
        {
            list.Add(ReadMessage(Object(item, $"messages[{index}]"), $"messages[{index}]"));
            index++;
        }

        if (list.Count == 0)
        {
            throw GatewayError.BadRequest("'messages' must not be empty.", "messages", "invalid_value");
        }

        return list;
    }

    private static ChatMessage ReadMessage(JsonElement item, string path)
    {
        var role = String(Required(item, "role", path + ".role"), path + ".role");
        var message = new ChatMessage { Role = role switch
        {
            "system" or "developer" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            _ => throw GatewayError.BadRequest($"'{path}.role' must be system, developer, user, assistant or tool, not '{role}'.", path + ".role", "invalid_value"),
        } };
        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "role": break;
                case "name": message.AuthorName = IsNull(value) ? null : String(value, path + ".name"); break;
                case "content":
                    if (!IsNull(value) && message.Role != ChatRole.Tool)
                    {
                        foreach (var content in ReadContent(value, path + ".content"))
                        {
                            message.Contents.Add(content);
                        }
                    }

                    break;
                case "tool_calls" when message.Role == ChatRole.Assistant:
                    if (!IsNull(value))
                    {
                        var i = 0;
                        foreach (var call in Array(value, path + ".tool_calls").EnumerateArray())
                        {
                            var at = $"{path}.tool_calls[{i++}]";
                            var function = Object(Required(call, "function", at + ".function"), at + ".function");
                            message.Contents.Add(new FunctionCallContent(
                                String(Required(call, "id", at + ".id"), at + ".id"),
                                String(Required(function, "name", at + ".function.name"), at + ".function.name"),
                                Arguments(function.TryGetProperty("arguments", out var a) && !IsNull(a) ? String(a, at + ".function.arguments") : "", at + ".function.arguments")));
                        }
                    }

                    break;
                case "tool_call_id" when message.Role == ChatRole.Tool: break;
                case "refusal" or "audio" or "function_call" when message.Role == ChatRole.Assistant: break;
                default: throw UnknownParameter(path + "." + property.Name);
            }
        }

        if (message.Role == ChatRole.Tool)
        {
            var callId = String(Required(item, "tool_call_id", path + ".tool_call_id"), path + ".tool_call_id");
            var text = item.TryGetProperty("content", out var content) && !IsNull(content)
                ? string.Concat(ReadContent(content, path + ".content").OfType<TextContent>().Select(t => t.Text))
                : "";
            message.Contents.Add(new FunctionResultContent(callId, text));
        }

        return message;
    }

    private static List<AIContent> ReadContent(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return [new TextContent(value.GetString())];
        }

        var parts = new List<AIContent>();
        var index = 0;
        foreach (var part in Array(value, path).EnumerateArray())
        {
            var at = $"{path}[{index++}]";
            var type = String(Required(Object(part, at), "type", at + ".type"), at + ".type");
            parts.Add(type switch
            {
                "text" => new TextContent(String(Required(part, "text", at + ".text"), at + ".text")),
                "image_url" => Image(String(Required(Object(Required(part, "image_url", at + ".image_url"), at + ".image_url"), "url", at + ".image_url.url"), at + ".image_url.url"), at + ".image_url.url"),
                "refusal" => new TextContent(String(Required(part, "refusal", at + ".refusal"), at + ".refusal")),
                _ => throw Unsupported(at + ".type", $"Content parts of type '{type}' are not supported; send text or image_url parts."),
            });
        }

        return parts;
    }

    private static List<string> ReadStop(JsonElement value) => value.ValueKind == JsonValueKind.String
        ? [value.GetString()!]
        : [.. Array(value, "stop").EnumerateArray().Select((s, i) => String(s, $"stop[{i}]"))];

    private static List<AITool> ReadTools(JsonElement value)
    {
        var tools = new List<AITool>();
        var index = 0;
        foreach (var tool in Array(value, "tools").EnumerateArray())
        {
            var at = $"tools[{index++}]";
            var type = String(Required(Object(tool, at), "type", at + ".type"), at + ".type");
            if (type != "function")
            {
                throw Unsupported(at + ".type", $"Tools of type '{type}' are not supported; declare functions (type 'function').");
            }

            var function = Object(Required(tool, "function", at + ".function"), at + ".function");
            var name = String(Required(function, "name", at + ".function.name"), at + ".function.name");
            var description = function.TryGetProperty("description", out var d) && !IsNull(d) ? String(d, at + ".function.description") : null;
            tools.Add(AIFunctionFactory.CreateDeclaration(name, description, Schema(function, at + ".function")));
        }

        return tools;
    }

    private static ChatResponseFormat ReadResponseFormat(JsonElement value)
    {
        var type = String(Required(Object(value, "response_format"), "type", "response_format.type"), "response_format.type");
        switch (type)
        {
            case "text": return ChatResponseFormat.Text;
            case "json_object": return ChatResponseFormat.Json;
            case "json_schema":
                var spec = Object(Required(value, "json_schema", "response_format.json_schema"), "response_format.json_schema");
                var name = String(Required(spec, "name", "response_format.json_schema.name"), "response_format.json_schema.name");
                var schema = Object(Required(spec, "schema", "response_format.json_schema.schema"), "response_format.json_schema.schema").Clone();
                var description = spec.TryGetProperty("description", out var d) && !IsNull(d) ? String(d, "response_format.json_schema.description") : null;
                return ChatResponseFormat.ForJsonSchema(schema, name, description);
            default:
                throw GatewayError.BadRequest($"'response_format.type' must be text, json_object or json_schema, not '{type}'.", "response_format.type", "invalid_value");
        }
    }

    internal static ReasoningEffort ReadEffort(JsonElement value) => String(value, "reasoning_effort") switch
    {
        "none" => ReasoningEffort.None,
        "minimal" or "low" => ReasoningEffort.Low,
        "medium" => ReasoningEffort.Medium,
        "high" => ReasoningEffort.High,
        "xhigh" => ReasoningEffort.ExtraHigh,
        var other => throw GatewayError.BadRequest($"'reasoning_effort' must be none, minimal, low, medium, high or xhigh, not '{other}'.", "reasoning_effort", "invalid_value"),
    };
}
