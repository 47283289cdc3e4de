using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Tools;

/// <summary>
/// Tool calls and results in the shapes chat templates expect (OpenAI's, which Hugging Face's
/// <c>apply_chat_template</c> uses): a tool is <c>{"type": "function", "function": {"name", "description", "parameters"}}</c>,
/// a call is <c>{"id", "type": "function", "function": {"name", "arguments": {...}}}</c> and a result is the text of
/// a <c>tool</c> message.
/// </summary>
internal static class ToolDefinitions
{
    // Tool results go into prompts: compact JSON, whatever indentation the function's serializer chose.
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>The function tools of <paramref name="tools"/>; hosted tools (web search, code interpreter) cannot run on device and are left out.</summary>
    public static IReadOnlyList<AIFunctionDeclaration> Functions(IEnumerable<AITool>? tools) =>
        tools is null ? [] : [.. tools.OfType<AIFunctionDeclaration>()];

    /// <summary>The functions a request offers the model: none when its tool mode is <see cref="ChatToolMode.None"/>.</summary>
    public static IReadOnlyList<AIFunctionDeclaration> Offered(ChatOptions? options) =>
        options?.ToolMode is NoneChatToolMode ? [] : Functions(options?.Tools);

    /// <summary>A tool as a JSON object, in the order Hugging Face writes it.</summary>
    public static JsonElement ToJson(AIFunctionDeclaration function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var inner = new Dictionary<string, object?> { ["name"] = function.Name };
        if (!string.IsNullOrEmpty(function.Description))
        {
            inner["description"] = function.Description;
        }

        inner["parameters"] = function.JsonSchema;
        return JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["type"] = "function", ["function"] = inner }, AIJsonUtilities.DefaultOptions);
    }

    /// <summary>A call's arguments as one JSON object (an empty object when there are none).</summary>
    public static JsonElement Arguments(FunctionCallContent call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions);
    }

    /// <summary>The text a tool result is shown to the model as: strings as they are, anything else as JSON.</summary>
    public static string ResultText(FunctionResultContent result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Result switch
        {
            null => result.Exception is { } error ? $"Error: {error.Message}" : string.Empty,
            string text => text,
            JsonElement { ValueKind: JsonValueKind.String } element => element.GetString()!,
            JsonElement element => JsonSerializer.Serialize(element, Compact),
            var other => JsonSerializer.Serialize(other, Compact),
        };
    }

    /// <summary>The name of the function each call id belongs to, from the calls in <paramref name="messages"/>.</summary>
    public static Dictionary<string, string> CallNames(IEnumerable<ChatMessage> messages)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var call in messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>())
        {
            if (!string.IsNullOrEmpty(call.CallId))
            {
                names[call.CallId] = call.Name;
            }
        }

        return names;
    }
}
