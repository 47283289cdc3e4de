using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Tools;

/// <summary>
/// Reads tool calls out of a model's streamed answer, in the formats small open models are trained on:
/// <list type="bullet">
/// <item>Hermes / Qwen2.5 (and <see cref="ToolPromptFallback"/>): <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>
/// blocks, possibly after some text and possibly several;</item>
/// <item>Llama 3.x: an answer that is a JSON call <c>{"name": ..., "parameters": {...}}</c> (or "arguments"; several
/// separated by ';', or a JSON list of them), optionally after <c>&lt;|python_tag|&gt;</c>.</item>
/// </list>
/// Text before a call streams as it comes; the call markup never comes out as text. An answer that opens with
/// '{' or '[' is held until the end, since only then is it known whether it is a call; a bare JSON call counts only
/// when it names one of the offered tools, otherwise the JSON is returned as text. A <c>&lt;tool_call&gt;</c> block
/// whose JSON does not parse is returned as text. Not thread-safe: one per generation.
/// </summary>
internal sealed class ToolCallParser(IReadOnlyCollection<string> toolNames)
{
    private const string Open = "<tool_call>";
    private const string Close = "</tool_call>";

    private readonly StringBuilder _pending = new();
    private Mode _mode = Mode.Start;
    private string _spaceBeforeTag = string.Empty;

    private enum Mode
    {
        /// <summary>Only whitespace so far: the answer may still turn out to be a bare JSON call.</summary>
        Start,
        Text,
        InTag,
        AfterCall,

        /// <summary>A bare JSON answer (or one after &lt;|python_tag|&gt;): decided at the end.</summary>
        Json,
    }

    /// <summary>The model wrote Llama 3's &lt;|python_tag|&gt; (a control token with no text): a JSON call follows.</summary>
    public void BeginJsonCall()
    {
        if (_mode is Mode.Start or Mode.Text or Mode.AfterCall)
        {
            _mode = Mode.Json;
        }
    }

    /// <summary>Adds decoded text; returns what may be shown now (text and finished calls, in order).</summary>
    public List<AIContent> Append(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _pending.Append(text);
        var output = new List<AIContent>();
        Drain(output, final: false);
        return output;
    }

    /// <summary>The answer is over: returns whatever was held back.</summary>
    public List<AIContent> Finish()
    {
        var output = new List<AIContent>();
        Drain(output, final: true);
        if (_pending.Length > 0)
        {
            output.Add(new TextContent(_pending.ToString()));
            _pending.Clear();
        }

        return output;
    }

    private void Drain(List<AIContent> output, bool final)
    {
        while (_pending.Length > 0)
        {
            var text = _pending.ToString();
            switch (_mode)
            {
                case Mode.Start:
                    var first = text.AsSpan().IndexOfAnyExcept(" \t\r\n");
                    if (first < 0)
                    {
                        if (final)
                        {
                            _mode = Mode.Text;
                            continue;
                        }

                        return;
                    }

                    _mode = text[first] is '{' or '[' ? Mode.Json : Mode.Text;
                    continue;
                case Mode.Text:
                    var open = text.IndexOf(Open, StringComparison.Ordinal);
                    if (open >= 0)
                    {
                        var before = text[..open].TrimEnd();
                        EmitText(output, before);
                        _spaceBeforeTag = text[before.Length..open];
                        _pending.Remove(0, open + Open.Length);
                        _mode = Mode.InTag;
                        continue;
                    }

                    // Hold back what may be the start of a tag, and the whitespace before it, which a tag makes markup.
                    var cut = final ? text.Length : text.Length - PartialTagLength(text);
                    while (!final && cut > 0 && char.IsWhiteSpace(text[cut - 1]))
                    {
                        cut--;
                    }

                    EmitText(output, text[..cut]);
                    _pending.Remove(0, cut);
                    return;
                case Mode.InTag:
                    var close = text.IndexOf(Close, StringComparison.Ordinal);
                    if (close < 0)
                    {
                        if (!final)
                        {
                            return;
                        }

                        // Cut off before the closing tag: a complete call inside still counts.
                        if (ParseCall(text, requireKnownName: false) is { } truncated)
                        {
                            output.Add(truncated);
                            _pending.Clear();
                        }
                        else
                        {
                            _pending.Insert(0, _spaceBeforeTag + Open);
                        }

                        return;
                    }

                    var body = text[..close];
                    _pending.Remove(0, close + Close.Length);
                    if (ParseCall(body, requireKnownName: false) is { } call)
                    {
                        output.Add(call);
                        _mode = Mode.AfterCall;
                    }
                    else
                    {
                        // Not a call after all: give the text back exactly as written.
                        EmitText(output, _spaceBeforeTag + Open + body + Close);
                        _mode = Mode.Text;
                    }

                    continue;
                case Mode.AfterCall:
                    var next = text.AsSpan().IndexOfAnyExcept(" \t\r\n");
                    if (next < 0)
                    {
                        if (final)
                        {
                            _pending.Clear();
                        }

                        return;
                    }

                    _pending.Remove(0, next);
                    _mode = Mode.Text;
                    continue;
                case Mode.Json:
                    if (!final)
                    {
                        return;
                    }

                    if (ParseJsonCalls(text) is { } calls)
                    {
                        output.AddRange(calls);
                    }
                    else
                    {
                        EmitText(output, text);
                    }

                    _pending.Clear();
                    return;
            }
        }
    }

    private static void EmitText(List<AIContent> output, string text)
    {
        if (text.Length > 0)
        {
            output.Add(new TextContent(text));
        }
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of the opening tag.</summary>
    private static int PartialTagLength(string text)
    {
        for (var length = Math.Min(Open.Length - 1, text.Length); length > 0; length--)
        {
            if (text.AsSpan(text.Length - length).SequenceEqual(Open.AsSpan(0, length)))
            {
                return length;
            }
        }

        return 0;
    }

    /// <summary>One or more bare JSON calls (an object, objects separated by ';' or whitespace, or a list), or null.</summary>
    private List<AIContent>? ParseJsonCalls(string text)
    {
        var calls = new List<AIContent>();
        var rest = Encoding.UTF8.GetBytes(text).AsMemory();
        try
        {
            while (true)
            {
                // Llama 3 separates parallel calls with ';', which is not JSON: step over it between values.
                var skip = rest.Span.IndexOfAnyExcept(" \t\r\n;"u8);
                if (skip < 0)
                {
                    break;
                }

                rest = rest[skip..];
                var reader = new Utf8JsonReader(rest.Span, new JsonReaderOptions { AllowMultipleValues = true, AllowTrailingCommas = true });
                using var document = JsonDocument.ParseValue(ref reader);
                rest = rest[(int)reader.BytesConsumed..];
                var values = document.RootElement.ValueKind == JsonValueKind.Array
                    ? [.. document.RootElement.EnumerateArray()]
                    : new List<JsonElement> { document.RootElement };
                foreach (var value in values)
                {
                    if (ToCall(value, requireKnownName: true) is not { } call)
                    {
                        return null;
                    }

                    calls.Add(call);
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return calls.Count > 0 ? calls : null;
    }

    private FunctionCallContent? ParseCall(string json, bool requireKnownName)
    {
        try
        {
            using var document = JsonDocument.Parse(json.Trim(), new JsonDocumentOptions { AllowTrailingCommas = true });
            return ToCall(document.RootElement, requireKnownName);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private FunctionCallContent? ToCall(JsonElement value, bool requireKnownName)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        // OpenAI-style {"type": "function", "function": {...}} wrappers appear too.
        if (value.TryGetProperty("function", out var inner) && inner.ValueKind == JsonValueKind.Object)
        {
            value = inner;
        }

        if (!value.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(name.GetString()))
        {
            return null;
        }

        var functionName = name.GetString()!;
        if (requireKnownName && !toolNames.Contains(functionName))
        {
            return null;
        }

        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (value.TryGetProperty("arguments", out var args) || value.TryGetProperty("parameters", out args))
        {
            if (args.ValueKind == JsonValueKind.String)
            {
                // Some models write the arguments as a JSON-encoded string.
                try
                {
                    using var parsed = JsonDocument.Parse(args.GetString()!);
                    args = parsed.RootElement.Clone();
                }
                catch (JsonException)
                {
                    return null;
                }
            }

            if (args.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in args.EnumerateObject())
                {
                    arguments[property.Name] = property.Value.Clone();
                }
            }
            else if (args.ValueKind != JsonValueKind.Null)
            {
                return null;
            }
        }
        else if (requireKnownName)
        {
            // A bare object with a tool's name but no arguments field is more likely data than a call.
            return null;
        }

        return new FunctionCallContent("call_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), functionName, arguments);
    }
}
