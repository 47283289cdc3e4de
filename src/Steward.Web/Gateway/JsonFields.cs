using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Steward.Web.Gateway;

/// <summary>Typed reads of a request's JSON fields, each failing with a 400 that names the field and what it must be.</summary>
internal static class JsonFields
{
    public static string String(JsonElement value, string param) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Wrong(param, "a string", value);

    public static bool Bool(JsonElement value, string param) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Wrong(param, "true or false", value),
    };

    public static float Number(JsonElement value, string param, double min, double max)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || number < min || number > max)
        {
            throw GatewayError.BadRequest(FormattableString.Invariant($"'{param}' must be a number from {min} to {max}."), param, "invalid_value");
        }

        return (float)number;
    }

    public static int Integer(JsonElement value, string param, int min, int max = int.MaxValue)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < min || number > max)
        {
            throw GatewayError.BadRequest(FormattableString.Invariant($"'{param}' must be a whole number from {min} to {max}."), param, "invalid_value");
        }

        return (int)number;
    }

    public static long Long(JsonElement value, string param) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : throw Wrong(param, "a whole number", value);

    public static JsonElement Object(JsonElement value, string param) =>
        value.ValueKind == JsonValueKind.Object ? value : throw Wrong(param, "an object", value);

    public static JsonElement Array(JsonElement value, string param) =>
        value.ValueKind == JsonValueKind.Array ? value : throw Wrong(param, "an array", value);

    public static JsonElement Required(JsonElement parent, string name, string param) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw GatewayError.BadRequest($"Missing required parameter: '{param}'.", param, "missing_required_parameter");

    /// <summary>
    /// The run's user id and tags from OpenAI's <c>user</c> (or <c>safety_identifier</c>) and <c>metadata</c> fields: each
    /// metadata pair becomes the tag <c>key:value</c> (or <c>key</c> when the value is empty), so cost by tag and the tag
    /// filters see it.
    /// </summary>
    public static (string? UserId, IReadOnlyList<string> Tags) RunMetadata(JsonElement root)
    {
        string? user = null;
        var tags = new List<string>();
        foreach (var property in root.EnumerateObject())
        {
            if (IsNull(property.Value))
            {
                continue;
            }

            switch (property.Name)
            {
                case "user":
                    user = String(property.Value, "user");
                    break;
                case "safety_identifier":
                    user ??= String(property.Value, "safety_identifier");
                    break;
                case "metadata":
                    foreach (var pair in Object(property.Value, "metadata").EnumerateObject())
                    {
                        var value = String(pair.Value, "metadata." + pair.Name);
                        tags.Add(value.Length == 0 ? pair.Name : pair.Name + ":" + value);
                    }

                    break;
            }
        }

        try
        {
            return (Steward.Agents.RunMetadata.UserId(user), Steward.Agents.RunMetadata.Tags(tags));
        }
        catch (ArgumentException ex)
        {
            throw GatewayError.BadRequest($"'user' or 'metadata' cannot be stored with the run: {ex.Message}", "metadata", "invalid_value");
        }
    }

    public static bool IsNull(JsonElement value) => value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    public static GatewayError Wrong(string param, string expected, JsonElement value) =>
        GatewayError.BadRequest($"'{param}' must be {expected}, not {Describe(value)}.", param, "invalid_type");

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>A function's arguments as a model sends them (a JSON object in a string).</summary>
    public static Dictionary<string, object?> Arguments(string json, string param)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, object?>>(json, AIJsonUtilities.DefaultOptions) ?? [];
        }
        catch (JsonException)
        {
            throw GatewayError.BadRequest($"'{param}' must be a JSON object in a string, as the model sent it.", param, "invalid_value");
        }
    }

    /// <summary>The model and the conversation every request must have; a 400 naming the missing one otherwise.</summary>
    public static (string Model, T Messages) RequireModelAnd<T>(string? model, T? messages, string messagesParam) where T : class =>
        string.IsNullOrWhiteSpace(model)
            ? throw GatewayError.BadRequest("Missing required parameter: 'model' (a preset name or PROVIDER/MODEL; GET /v1/models lists them).", "model", "missing_required_parameter")
            : messages is null
                ? throw GatewayError.BadRequest($"Missing required parameter: '{messagesParam}'.", messagesParam, "missing_required_parameter")
                : (model, messages);

    /// <summary>An image by URL: a data: URL becomes its bytes, an http(s) one stays a link.</summary>
    public static AIContent Image(string url, string path)
    {
        if (url.StartsWith("data:", StringComparison.Ordinal))
        {
            try
            {
                return new DataContent(url);
            }
            catch (FormatException)
            {
                throw GatewayError.BadRequest($"'{path}' is not a valid data: URL (data:image/png;base64,…).", path, "invalid_value");
            }
        }

        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? new UriContent(uri, "image/*")
            : throw GatewayError.BadRequest($"'{path}' must be an http(s) or data: URL.", path, "invalid_value");
    }

    /// <summary><c>tool_choice</c>: auto, none, required, or a named function (found by <paramref name="functionName"/>) among the tools.</summary>
    public static ChatToolMode ToolChoice(JsonElement value, IList<AITool>? tools, Func<JsonElement, string> functionName)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString() switch
            {
                "auto" => ChatToolMode.Auto,
                "none" => ChatToolMode.None,
                "required" => ChatToolMode.RequireAny,
                var other => throw GatewayError.BadRequest($"'tool_choice' must be auto, none, required or a function, not '{other}'.", "tool_choice", "invalid_value"),
            };
        }

        var name = functionName(Object(value, "tool_choice"));
        return tools?.Any(t => t.Name == name) == true
            ? ChatToolMode.RequireSpecific(name)
            : throw GatewayError.BadRequest($"'tool_choice' names the function '{name}', which is not among 'tools'.", "tool_choice", "invalid_value");
    }

    /// <summary>A function's parameters schema; <c>{"type":"object","properties":{}}</c> when absent.</summary>
    public static JsonElement Schema(JsonElement function, string param) =>
        function.TryGetProperty("parameters", out var parameters) && !IsNull(parameters)
            ? Object(parameters, param + ".parameters").Clone()
            : EmptySchema;

    private static readonly JsonElement EmptySchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();
}
