using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// The filters and tests chat templates use, as @huggingface/jinja implements them. A filter or test that is not
/// here, or one applied to a type it does not take, fails with its name rather than rendering something else.
/// </summary>
internal static partial class JinjaFilters
{
    public static JinjaValue Apply(JinjaValue operand, string name, JinjaArguments arguments)
    {
        switch (name)
        {
            case "safe":
                return operand;
            case "tojson":
                return new JinjaString(JinjaJson.Serialize(operand, JsonOptions(arguments)));
            case "default" or "d":
                var fallback = arguments.Get(0, "default_value") ?? JinjaString.Empty;
                var boolean = BoolArgument(arguments, 1, "boolean", false);
                return operand is JinjaUndefined || (boolean && !operand.IsTruthy) ? fallback : operand;
        }

        return operand switch
        {
            JinjaList list => ListFilter(list, name, arguments),
            JinjaString text => StringFilter(text.Value, name, arguments),
            JinjaInteger or JinjaFloat => NumberFilter(operand, name, arguments),
            JinjaBool b => name switch
            {
                "bool" => b,
                "int" => new JinjaInteger(b.Value ? 1 : 0),
                "float" => new JinjaFloat(b.Value ? 1 : 0),
                "string" => new JinjaString(b.Render()),
                _ => throw Unsupported(name, operand),
            },
            JinjaDict dict => name switch
            {
                "items" => JinjaMembers.Items(dict),
                "length" or "count" => new JinjaInteger(dict.Entries.Count),
                "string" => new JinjaString(dict.Render()),
                _ when JinjaMembers.Get(dict, new JinjaString(name)) is JinjaFunction method && name is "keys" or "values" or "dictsort" or "get" => method.Invoke(arguments),
                _ => throw Unsupported(name, operand),
            },
            _ => throw Unsupported(name, operand),
        };
    }

    private static JinjaRuntimeException Unsupported(string name, JinjaValue operand) =>
        new($"unsupported filter '{name}' on {JinjaInterpreter.Describe(operand)}");

    private static JinjaJsonOptions JsonOptions(JinjaArguments arguments)
    {
        var indent = arguments.Get(0, "indent") switch
        {
            null or JinjaNone => (int?)null,
            JinjaInteger i => (int)i.Value,
            _ => throw new JinjaRuntimeException("tojson indent must be an integer"),
        };
        string? itemSeparator = null, keySeparator = null;
        switch (arguments.Keyword.GetValueOrDefault("separators"))
        {
            case null or JinjaNone:
                break;
            case JinjaList { Items: [JinjaString item, JinjaString key] }:
                (itemSeparator, keySeparator) = (item.Value, key.Value);
                break;
            default:
                throw new JinjaRuntimeException("tojson separators must be a pair of strings");
        }

        return new JinjaJsonOptions(indent, BoolKeyword(arguments, "ensure_ascii"), BoolKeyword(arguments, "sort_keys"), itemSeparator, keySeparator);
    }

    private static bool BoolKeyword(JinjaArguments arguments, string name) => arguments.Keyword.GetValueOrDefault(name) switch
    {
        null => false,
        JinjaBool b => b.Value,
        _ => throw new JinjaRuntimeException($"{name} must be a boolean"),
    };

    public static bool BoolArgument(JinjaArguments arguments, int index, string name, bool fallback) => arguments.Get(index, name) switch
    {
        null => fallback,
        JinjaBool b => b.Value,
        var other => throw new JinjaRuntimeException($"'{name}' must be a boolean, not {JinjaInterpreter.Describe(other)}"),
    };

    private static JinjaValue ListFilter(JinjaList list, string name, JinjaArguments arguments)
    {
        switch (name)
        {
            case "list":
                return list;
            case "first":
                return list.Items.Count > 0 ? list.Items[0] : JinjaUndefined.Instance;
            case "last":
                return list.Items.Count > 0 ? list.Items[^1] : JinjaUndefined.Instance;
            case "length" or "count":
                return new JinjaInteger(list.Items.Count);
            case "reverse":
                return new JinjaList([.. Enumerable.Reverse(list.Items)]);
            case "join":
                var separator = arguments.Get(0, "d") ?? arguments.Keyword.GetValueOrDefault("separator") ?? JinjaString.Empty;
                if (separator is not JinjaString sep)
                {
                    throw new JinjaRuntimeException("join separator must be a string");
                }

                return new JinjaString(string.Join(sep.Value, list.Items.Select(JinjaOperators.ToJsString)));
            case "string":
                return new JinjaString(list.Render());
            case "unique":
                var unique = new List<JinjaValue>();
                foreach (var item in list.Items.Where(item => !unique.Any(u => JinjaOperators.StrictEquals(u, item))))
                {
                    unique.Add(item);
                }

                return new JinjaList(unique);
            case "sort":
                var reverse = BoolArgument(arguments, 0, "reverse", false);
                var caseSensitive = BoolArgument(arguments, 1, "case_sensitive", false);
                var attribute = arguments.Get(2, "attribute") switch
                {
                    null or JinjaNone => null,
                    JinjaString s => s.Value,
                    JinjaInteger i => i.Value.ToString(CultureInfo.InvariantCulture),
                    _ => throw new JinjaRuntimeException("sort attribute must be a string or an integer"),
                };
                JinjaValue Key(JinjaValue item) => attribute is null ? item : Attribute(item, attribute);
                return new JinjaList([.. list.Items.Order(Comparer<JinjaValue>.Create((a, b) =>
                {
                    var order = Compare(Key(a), Key(b), caseSensitive);
                    return reverse ? -order : order;
                }))]);
            case "selectattr" or "rejectattr":
                return SelectAttribute(list, name, arguments);
            case "map":
                if (arguments.Keyword.GetValueOrDefault("attribute") is not JinjaString path)
                {
                    throw new JinjaRuntimeException("map() is supported with attribute= only");
                }

                var fallback = arguments.Keyword.GetValueOrDefault("default");
                return new JinjaList([.. list.Items.Select(item =>
                {
                    if (item is not (JinjaDict or JinjaNamespace))
                    {
                        throw new JinjaRuntimeException("map(attribute=...) needs a list of dicts");
                    }

                    var value = Attribute(item, path.Value);
                    return value is JinjaUndefined ? fallback ?? value : value;
                })]);
            default:
                throw Unsupported(name, list);
        }
    }

    private static JinjaList SelectAttribute(JinjaList list, string name, JinjaArguments arguments)
    {
        if (list.Items.Any(i => i is not (JinjaDict or JinjaNamespace)))
        {
            throw new JinjaRuntimeException($"{name}() needs a list of dicts");
        }

        if (arguments.Positional.Count == 0 || arguments.Positional.Any(a => a is not JinjaString))
        {
            throw new JinjaRuntimeException($"{name}() arguments must be strings");
        }

        var attribute = ((JinjaString)arguments.Positional[0]).Value;
        var test = arguments.Positional.Count > 1 ? ((JinjaString)arguments.Positional[1]).Value : null;
        var expected = arguments.Positional.Count > 2 ? arguments.Positional[2] : null;
        var select = name == "selectattr";
        return new JinjaList([.. list.Items.Where(item =>
        {
            var entries = item is JinjaDict d ? d.Entries : ((JinjaNamespace)item).Entries;
            var passed = entries.TryGetValue(attribute, out var value) && (test is null ? value.IsTruthy : Test(test, value, expected));
            return passed == select;
        })]);
    }

    /// <summary>Follows a dotted path through dicts and lists (sort/map <c>attribute=</c>).</summary>
    private static JinjaValue Attribute(JinjaValue item, string path)
    {
        var value = item;
        foreach (var part in path.Split('.'))
        {
            value = value switch
            {
                JinjaDict d => d.Entries.GetValueOrDefault(part) ?? JinjaUndefined.Instance,
                JinjaNamespace n => n.Entries.GetValueOrDefault(part) ?? JinjaUndefined.Instance,
                JinjaList l when int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < l.Items.Count => l.Items[i],
                _ => JinjaUndefined.Instance,
            };
        }

        return value;
    }

    private static JinjaValue StringFilter(string text, string name, JinjaArguments arguments)
    {
        switch (name)
        {
            case "length" or "count":
                return new JinjaInteger(text.Length);
            case "upper":
                return new JinjaString(text.ToUpperInvariant());
            case "lower":
                return new JinjaString(text.ToLowerInvariant());
            case "title":
                return new JinjaString(JinjaMembers.Title(text));
            case "capitalize":
                return new JinjaString(text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..]);
            case "trim":
                var chars = arguments.Get(0, "chars") is JinjaString c ? c.Value : null;
                return new JinjaString(JinjaMembers.Strip(text, chars, start: true, end: true));
            case "string" or "safe":
                return new JinjaString(text);
            case "join":
                var separator = arguments.Get(0, "d") is JinjaString s ? s.Value : string.Empty;
                return new JinjaString(string.Join(separator, text.EnumerateRunes().Select(r => r.ToString())));
            case "list":
                return new JinjaList([.. text.EnumerateRunes().Select(r => (JinjaValue)new JinjaString(r.ToString()))]);
            case "int":
                return ParseInteger(text) is { } integer ? new JinjaInteger(integer) : arguments.Get(0, "default") ?? new JinjaInteger(0);
            case "float":
                return ParseFloat(text) is { } number ? new JinjaFloat(number) : arguments.Get(0, "default") ?? new JinjaFloat(0);
            case "replace":
                return JinjaMembers.Replace(text, arguments);
            case "indent":
                var width = arguments.Get(0, "width") switch
                {
                    null => 4,
                    JinjaInteger i => (int)i.Value,
                    _ => throw new JinjaRuntimeException("indent width must be an integer"),
                };
                var first = BoolArgument(arguments, 1, "first", false);
                var blank = BoolArgument(arguments, 2, "blank", false);
                var pad = new string(' ', width);
                var lines = text.Split('\n');
                var output = new StringBuilder();
                for (var i = 0; i < lines.Length; i++)
                {
                    if (i > 0)
                    {
                        output.Append('\n');
                    }

                    if ((first || i > 0) && (blank || lines[i].Length > 0))
                    {
                        output.Append(pad);
                    }

                    output.Append(lines[i]);
                }

                return new JinjaString(output.ToString());
            default:
                throw Unsupported(name, new JinjaString(text));
        }
    }

    private static JinjaValue NumberFilter(JinjaValue number, string name, JinjaArguments arguments)
    {
        _ = arguments;
        return (name, number) switch
        {
            ("abs", JinjaInteger i) => new JinjaInteger(Math.Abs(i.Value)),
            ("abs", JinjaFloat f) => new JinjaFloat(Math.Abs(f.Value)),
            ("int", JinjaInteger i) => i,
            ("int", JinjaFloat f) => new JinjaInteger((long)Math.Floor(f.Value)),
            ("float", JinjaInteger i) => new JinjaFloat(i.Value),
            ("float", JinjaFloat f) => f,
            ("string", _) => new JinjaString(number.Render()),
            _ => throw Unsupported(name, number),
        };
    }

    /// <summary>JavaScript's parseInt(text, 10): leading whitespace, a sign, then as many digits as there are.</summary>
    private static long? ParseInteger(string text)
    {
        var match = IntegerPrefix().Match(JinjaLexer.TrimStartJs(text));
        return match.Success && long.TryParse(match.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    /// <summary>JavaScript's parseFloat: the longest prefix that reads as a decimal number.</summary>
    private static double? ParseFloat(string text)
    {
        var trimmed = JinjaLexer.TrimStartJs(text);
        if (trimmed.StartsWith("Infinity", StringComparison.Ordinal) || trimmed.StartsWith("+Infinity", StringComparison.Ordinal))
        {
            return double.PositiveInfinity;
        }

        if (trimmed.StartsWith("-Infinity", StringComparison.Ordinal))
        {
            return double.NegativeInfinity;
        }

        var match = FloatPrefix().Match(trimmed);
        return match.Success ? double.Parse(match.Value, NumberStyles.Float, CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex(@"\A[+-]?[0-9]+", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPrefix();

    [GeneratedRegex(@"\A[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPrefix();

    /// <summary>Ordering for sort and dictsort: numbers (and booleans) numerically, strings case-insensitively unless asked.</summary>
    public static int Compare(JinjaValue a, JinjaValue b, bool caseSensitive)
    {
        switch (a, b)
        {
            case (JinjaNone, JinjaNone) or (JinjaUndefined, JinjaUndefined):
                return 0;
            case (JinjaNone or JinjaUndefined, _) or (_, JinjaNone or JinjaUndefined):
                throw new JinjaRuntimeException($"cannot compare {JinjaInterpreter.Describe(a)} with {JinjaInterpreter.Describe(b)}");
            case (JinjaInteger or JinjaFloat or JinjaBool, JinjaInteger or JinjaFloat or JinjaBool):
                return Number(a).CompareTo(Number(b));
            case (JinjaString x, JinjaString y):
                return caseSensitive
                    ? string.CompareOrdinal(x.Value, y.Value)
                    : string.CompareOrdinal(x.Value.ToLowerInvariant(), y.Value.ToLowerInvariant());
            default:
                throw new JinjaRuntimeException($"cannot compare {JinjaInterpreter.Describe(a)} with {JinjaInterpreter.Describe(b)}");
        }

        static double Number(JinjaValue v) => v switch
        {
            JinjaInteger i => i.Value,
            JinjaFloat f => f.Value,
            JinjaBool flag => flag.Value ? 1 : 0,
            _ => 0,
        };
    }

    /// <summary>The <c>is</c> tests; <paramref name="argument"/> is the compared value of equalto/eq (selectattr).</summary>
    public static bool Test(string name, JinjaValue operand, JinjaValue? argument) => name switch
    {
        "defined" => operand is not JinjaUndefined,
        "undefined" => operand is JinjaUndefined,
        "none" => operand is JinjaNone,
        "boolean" => operand is JinjaBool,
        "true" => operand is JinjaBool { Value: true },
        "false" => operand is JinjaBool { Value: false },
        "string" => operand is JinjaString,
        "number" => operand is JinjaInteger or JinjaFloat,
        "integer" => operand is JinjaInteger,
        "float" => operand is JinjaFloat,
        "iterable" => operand is JinjaList or JinjaString,
        "mapping" => operand is JinjaDict,
        "sequence" => operand is JinjaList or JinjaDict or JinjaString,
        "callable" => operand is JinjaFunction,
        "lower" => operand is JinjaString s && string.Equals(s.Value, s.Value.ToLowerInvariant(), StringComparison.Ordinal),
        "upper" => operand is JinjaString s && string.Equals(s.Value, s.Value.ToUpperInvariant(), StringComparison.Ordinal),
        "odd" => operand is JinjaInteger i ? i.Value % 2 != 0 : throw new JinjaRuntimeException($"'odd' needs an integer, not {JinjaInterpreter.Describe(operand)}"),
        "even" => operand is JinjaInteger i ? i.Value % 2 == 0 : throw new JinjaRuntimeException($"'even' needs an integer, not {JinjaInterpreter.Describe(operand)}"),
        "equalto" or "eq" or "==" => argument is not null && JinjaOperators.StrictEquals(operand, argument),
        _ => throw new JinjaRuntimeException($"unsupported test '{name}'"),
    };
}
