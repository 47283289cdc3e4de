using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>Options of the <c>tojson</c> filter.</summary>
internal sealed record JinjaJsonOptions(int? Indent = null, bool EnsureAscii = false, bool SortKeys = false, string? ItemSeparator = null, string? KeySeparator = null)
{
    public static JinjaJsonOptions Default { get; } = new();
}

/// <summary>
/// JSON in and out of templates. Output follows @huggingface/jinja's <c>tojson</c> (Python's <c>json.dumps</c> layout:
/// ", " and ": " separators, or "," and ": " when indenting; non-ASCII kept unless <c>ensure_ascii</c>), and input
/// follows JSON.parse (a number with no fractional part is an integer).
/// </summary>
internal static class JinjaJson
{
    public static string Serialize(JinjaValue value, JinjaJsonOptions options, bool undefinedAsNull = true)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        var text = new StringBuilder();
        Write(text, value, options, 0, undefinedAsNull);
        return text.ToString();
    }

    public static JinjaValue FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => FromObject(element),
        JsonValueKind.Array => new JinjaList([.. element.EnumerateArray().Select(FromJson)]),
        JsonValueKind.String => new JinjaString(element.GetString()!),
        JsonValueKind.Number => FromNumber(element),
        JsonValueKind.True => JinjaBool.True,
        JsonValueKind.False => JinjaBool.False,
        _ => JinjaNone.Instance,
    };

    private static JinjaDict FromObject(JsonElement element)
    {
        var dict = new JinjaDict();
        foreach (var property in element.EnumerateObject())
        {
            dict.Entries[property.Name] = FromJson(property.Value);
        }

        return dict;
    }

    private static JinjaValue FromNumber(JsonElement element)
    {
        if (element.TryGetInt64(out var integer))
        {
            return new JinjaInteger(integer);
        }

        var number = element.GetDouble();
        return number % 1 == 0 && Math.Abs(number) < 9.2e18 ? new JinjaInteger((long)number) : new JinjaFloat(number);
    }

    private static void Write(StringBuilder text, JinjaValue value, JinjaJsonOptions options, int depth, bool undefinedAsNull)
    {
        switch (value)
        {
            case JinjaNone:
                text.Append("null");
                break;
            case JinjaUndefined:
                text.Append(undefinedAsNull ? "null" : "undefined");
                break;
            case JinjaBool b:
                text.Append(b.Value ? "true" : "false");
                break;
            case JinjaInteger i:
                text.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                break;
            case JinjaFloat f:
                text.Append(double.IsFinite(f.Value) ? JsNumber.Format(f.Value) : "null");
                break;
            case JinjaString s:
                WriteString(text, s.Value, options.EnsureAscii);
                break;
            case JinjaList { IsTuple: true }:
                throw new JinjaRuntimeException("cannot convert a tuple to JSON");
            case JinjaList list:
                WriteContainer(text, '[', ']', list.Items.Select(item => (Key: (string?)null, Value: item)), options, depth, undefinedAsNull);
                break;
            case JinjaDict dict:
                WriteContainer(text, '{', '}', Entries(dict.Entries, options), options, depth, undefinedAsNull);
                break;
            case JinjaNamespace ns:
                WriteContainer(text, '{', '}', Entries(ns.Entries, options), options, depth, undefinedAsNull);
                break;
            default:
                throw new JinjaRuntimeException($"cannot convert a {value.TypeName} to JSON");
        }
    }

    private static IEnumerable<(string? Key, JinjaValue Value)> Entries(OrderedDictionary<string, JinjaValue> entries, JinjaJsonOptions options)
    {
        var pairs = entries.Select(e => ((string?)e.Key, e.Value));
        return options.SortKeys ? pairs.OrderBy(p => p.Item1, StringComparer.InvariantCulture) : pairs;
    }

    private static void WriteContainer(StringBuilder text, char open, char close, IEnumerable<(string? Key, JinjaValue Value)> items, JinjaJsonOptions options, int depth, bool undefinedAsNull)
    {
        var indent = options.Indent is > 0 ? new string(' ', options.Indent.Value) : null;
        var itemSeparator = options.ItemSeparator ?? (indent is null ? ", " : ",");
        var keySeparator = options.KeySeparator ?? ": ";
        text.Append(open);
        var first = true;
        foreach (var (key, value) in items)
        {
            if (!first)
            {
                text.Append(itemSeparator);
            }

            first = false;
            if (indent is not null)
            {
                text.Append('\n');
                for (var d = 0; d <= depth; d++)
                {
                    text.Append(indent);
                }
            }

            if (key is not null)
            {
                WriteString(text, key, options.EnsureAscii);
                text.Append(keySeparator);
            }

            Write(text, value, options, depth + 1, undefinedAsNull);
        }

        if (indent is not null && !first)
        {
            text.Append('\n');
            for (var d = 0; d < depth; d++)
            {
                text.Append(indent);
            }
        }

        text.Append(close);
    }

    /// <summary>JSON.stringify's string escaping, plus <c>ensure_ascii</c>'s \uXXXX for everything from U+007F up.</summary>
    public static void WriteString(StringBuilder text, string value, bool ensureAscii)
    {
        text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"':
                    text.Append("\\\"");
                    continue;
                case '\\':
                    text.Append("\\\\");
                    continue;
                case '\b':
                    text.Append("\\b");
                    continue;
                case '\f':
                    text.Append("\\f");
                    continue;
                case '\n':
                    text.Append("\\n");
                    continue;
                case '\r':
                    text.Append("\\r");
                    continue;
                case '\t':
                    text.Append("\\t");
                    continue;
            }

            var loneSurrogate = char.IsHighSurrogate(c) ? i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1])
                : char.IsLowSurrogate(c) && (i == 0 || !char.IsHighSurrogate(value[i - 1]));
            if (c < 0x20 || loneSurrogate || (ensureAscii && c >= 0x7f))
            {
                text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append(c);
            }
        }

        text.Append('"');
    }
}
