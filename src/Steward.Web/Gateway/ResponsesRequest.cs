using System.Text.Json;
using Microsoft.Extensions.AI;
using static Steward.Web.Gateway.JsonFields;

namespace Steward.Web.Gateway;

/// <summary>
/// A <c>POST /v1/responses</c> body read into the engine's terms. The gateway is stateless: the whole conversation comes
/// in <c>input</c> (messages, function calls and their outputs), so <c>previous_response_id</c>, <c>conversation</c> and
/// <c>background</c> are refused by name, as are fields the Responses API does not define.
/// </summary>
internal sealed record ResponsesRequest(string Model, IReadOnlyList<ChatMessage> Messages, ChatOptions Options, int? MaxOutputTokens, bool Stream)
{
    /// <summary>Who the run is for: the request's <c>user</c> (or <c>safety_identifier</c>).</summary>
    public string? UserId { get; init; }

    /// <summary>The request's <c>metadata</c> pairs as the run's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    private static readonly HashSet<string> Ignored = ["user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier", "truncation", "include", "stream_options"];

    public static ResponsesRequest Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw GatewayError.BadRequest("The request body must be a JSON object.");
        }

        string? model = null;
        List<ChatMessage>? messages = null;
        var options = new ChatOptions();
        int? maxTokens = null;
        var stream = false;
        JsonElement? toolChoice = null;
        string? instructions = null;
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "model": model = String(value, "model"); break;
                case "input": messages = ReadInput(value); break;
                case "instructions": instructions = IsNull(value) ? null : String(value, "instructions"); break;
                case "stream": stream = !IsNull(value) && Bool(value, "stream"); break;
                case "temperature": options.Temperature = IsNull(value) ? null : Number(value, "temperature", 0, 2); break;
                case "top_p": options.TopP = IsNull(value) ? null : Number(value, "top_p", 0, 1); break;
                case "max_output_tokens": maxTokens = IsNull(value) ? null : Integer(value, "max_output_tokens", 1); break;
                case "tools": options.Tools = IsNull(value) ? null : ReadTools(value); break;
                case "tool_choice": toolChoice = IsNull(value) ? null : value; break;
                case "parallel_tool_calls": options.AllowMultipleToolCalls = IsNull(value) ? null : Bool(value, "parallel_tool_calls"); break;
                case "text": options.ResponseFormat = IsNull(value) ? null : ReadText(value); break;
                case "reasoning":
                    if (!IsNull(value) && Object(value, "reasoning").TryGetProperty("effort", out var effort) && !IsNull(effort))
                    {
                        options.Reasoning = new ReasoningOptions { Effort = ChatCompletionsRequest.ReadEffort(effort) };
                    }

                    break;
                case "previous_response_id" or "conversation" or "background" or "prompt":
                    if (!IsNull(value) && value.ValueKind != JsonValueKind.False)
                    {
                        throw GatewayError.Unsupported(property.Name, $"Steward's gateway is stateless: leave out '{property.Name}' and send the whole conversation in 'input'.");
                    }

                    break;
                case "top_logprobs" or "max_tool_calls":
                    if (!IsNull(value))
                    {
                        throw GatewayError.Unsupported(property.Name, $"Steward does not support '{property.Name}'; leave it out.");
                    }

                    break;
                default:
                    if (!Ignored.Contains(property.Name))
                    {
                        throw GatewayError.UnknownParameter(property.Name);
                    }

                    break;
            }
        }

        var (name, conversation) = RequireModelAnd(model, messages, "input");
        if (toolChoice is { } choice)
        {
            options.ToolMode = ToolChoice(choice, options.Tools, c => String(Required(c, "name", "tool_choice.name"), "tool_choice.name"));
        }

        if (!string.IsNullOrEmpty(instructions))
        {
            // A system message, not ChatOptions.Instructions: a preset's own instructions stay first and in force.
            conversation.Insert(0, new ChatMessage(ChatRole.System, instructions));
        }

        var (userId, tags) = JsonFields.RunMetadata(root);
        return new ResponsesRequest(name, conversation, options, maxTokens, stream) { UserId = userId, Tags = tags };
    }

    private static List<ChatMessage> ReadInput(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return [new ChatMessage(ChatRole.User, value.GetString())];
        }

        var messages = new List<ChatMessage>();
        var index = 0;
        foreach (var item in Array(value, "input").EnumerateArray())
        {
            var at = $"input[{index++}]";
            Object(item, at);
            var type = item.TryGetProperty("type", out var t) && !IsNull(t) ? String(t, at + ".type") : "message";
            switch (type)
            {
                case "message":
                    messages.Add(ReadMessage(item, at));
                    break;
                case "function_call":
                    var call = new FunctionCallContent(
                        String(Required(item, "call_id", at + ".call_id"), at + ".call_id"),
                        String(Required(item, "name", at + ".name"), at + ".name"),
                        Arguments(item.TryGetProperty("arguments", out var a) && !IsNull(a) ? String(a, at + ".arguments") : "", at + ".arguments"));
                    // Calls the model made together belong to one assistant turn.
                    if (messages.Count > 0 && messages[^1].Role == ChatRole.Assistant && messages[^1].Contents.All(c => c is FunctionCallContent))
                    {
                        messages[^1].Contents.Add(call);
                    }
                    else
                    {
                        messages.Add(new ChatMessage(ChatRole.Assistant, [call]));
                    }

                    break;
                case "function_call_output":
                    var output = Required(item, "output", at + ".output");
                    var text = output.ValueKind == JsonValueKind.String ? output.GetString()! : string.Concat(ReadParts(output, at + ".output").OfType<TextContent>().Select(p => p.Text));
                    messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(String(Required(item, "call_id", at + ".call_id"), at + ".call_id"), text)]));
                    break;
                case "reasoning":
                    // The model's earlier reasoning: nothing to send back in a stateless request.
                    break;
                default:
                    throw GatewayError.Unsupported(at + ".type", $"Input items of type '{type}' are not supported; send messages, function_call and function_call_output items.");
            }
        }

        if (messages.Count == 0)
        {
            throw GatewayError.BadRequest("'input' must not be empty.", "input", "invalid_value");
        }

        return messages;
    }

    private static ChatMessage ReadMessage(JsonElement item, string path)
    {
        var role = String(Required(item, "role", path + ".role"), path + ".role");
        var message = new ChatMessage { Role = role switch
        {
            "system" or "developer" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            _ => throw GatewayError.BadRequest($"'{path}.role' must be system, developer, user or assistant, not '{role}'.", path + ".role", "invalid_value"),
        } };
        foreach (var property in item.EnumerateObject())
        {
            switch (property.Name)
            {
                case "role" or "type" or "id" or "status": break;
                case "content":
                    var content = property.Value;
                    foreach (var part in content.ValueKind == JsonValueKind.String ? [new TextContent(content.GetString())] : ReadParts(content, path + ".content"))
                    {
                        message.Contents.Add(part);
                    }

                    break;
                default: throw GatewayError.UnknownParameter(path + "." + property.Name);
            }
        }

        return message;
    }

    private static List<AIContent> ReadParts(JsonElement value, string path)
    {
        var parts = new List<AIContent>();
        var index = 0;
        foreach (var part in Array(value, path).EnumerateArray())
        {
            var at = $"{path}[{index++}]";
            var type = String(Required(Object(part, at), "type", at + ".type"), at + ".type");
            parts.Add(type switch
            {
                "input_text" or "output_text" or "text" => new TextContent(String(Required(part, "text", at + ".text"), at + ".text")),
                "refusal" => new TextContent(String(Required(part, "refusal", at + ".refusal"), at + ".refusal")),
                "input_image" => Image(String(Required(part, "image_url", at + ".image_url"), at + ".image_url"), at + ".image_url"),
                _ => throw GatewayError.Unsupported(at + ".type", $"Content parts of type '{type}' are not supported; send input_text or input_image parts."),
            });
        }

        return parts;
    }

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
                throw GatewayError.Unsupported(at + ".type", $"Tools of type '{type}' are not supported; declare functions (type 'function').");
            }

            var name = String(Required(tool, "name", at + ".name"), at + ".name");
            var description = tool.TryGetProperty("description", out var d) && !IsNull(d) ? String(d, at + ".description") : null;
            tools.Add(AIFunctionFactory.CreateDeclaration(name, description, Schema(tool, at)));
        }

        return tools;
    }

    private static ChatResponseFormat? ReadText(JsonElement value)
    {
        if (!Object(value, "text").TryGetProperty("format", out var format) || IsNull(format))
        {
            return null;
        }

        var type = String(Required(Object(format, "text.format"), "type", "text.format.type"), "text.format.type");
        return type switch
        {
            "text" => ChatResponseFormat.Text,
            "json_object" => ChatResponseFormat.Json,
            "json_schema" => ChatResponseFormat.ForJsonSchema(
                Object(Required(format, "schema", "text.format.schema"), "text.format.schema").Clone(),
                String(Required(format, "name", "text.format.name"), "text.format.name"),
                format.TryGetProperty("description", out var d) && !IsNull(d) ? String(d, "text.format.description") : null),
            _ => throw GatewayError.BadRequest($"'text.format.type' must be text, json_object or json_schema, not '{type}'.", "text.format.type", "invalid_value"),
        };
    }
}
