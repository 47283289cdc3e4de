using System.Text;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// Attribute and item access (<c>a.b</c>, <c>a['b']</c>, <c>a[-1]</c>), slicing, and the methods templates call on
/// strings (upper, lower, strip, lstrip, rstrip, title, capitalize, startswith, endswith, split, replace; length)
/// and dictionaries (get, items, keys, values, dictsort). A missing key is undefined, as in @huggingface/jinja.
/// </summary>
internal static class JinjaMembers
{
    public static JinjaValue Get(JinjaValue target, JinjaValue key)
    {
        switch (target)
        {
            case JinjaDict dict:
                var name = key as JinjaString ?? throw new JinjaRuntimeException($"a dict is indexed by strings, not by {JinjaInterpreter.Describe(key)}");
                return dict.Entries.TryGetValue(name.Value, out var value) ? value : (JinjaValue?)DictMethod(dict, name.Value) ?? JinjaUndefined.Instance;
            case JinjaNamespace ns:
                var attribute = key as JinjaString ?? throw new JinjaRuntimeException($"a namespace is indexed by strings, not by {JinjaInterpreter.Describe(key)}");
                return ns.Entries.TryGetValue(attribute.Value, out var stored) ? stored : JinjaUndefined.Instance;
            case JinjaList list:
                return key switch
                {
                    JinjaInteger index => At(list.Items.Count, index.Value) is { } i ? list.Items[i] : JinjaUndefined.Instance,
                    JinjaString { Value: "length" } => new JinjaInteger(list.Items.Count),
                    JinjaString => JinjaUndefined.Instance,
                    _ => throw new JinjaRuntimeException($"a list is indexed by integers, not by {JinjaInterpreter.Describe(key)}"),
                };
            case JinjaString text:
                return key switch
                {
                    JinjaInteger index => At(text.Value.Length, index.Value) is { } i ? new JinjaString(text.Value[i].ToString()) : JinjaUndefined.Instance,
                    JinjaString method => StringMethod(text.Value, method.Value) ?? JinjaUndefined.Instance,
                    _ => throw new JinjaRuntimeException($"a string is indexed by integers, not by {JinjaInterpreter.Describe(key)}"),
                };
            default:
                return key is JinjaString
                    ? JinjaUndefined.Instance
                    : throw new JinjaRuntimeException($"cannot index {JinjaInterpreter.Describe(target)} with {JinjaInterpreter.Describe(key)}");
        }
    }

    private static int? At(int count, long index)
    {
        var i = index < 0 ? count + index : index;
        return i >= 0 && i < count ? (int)i : null;
    }

    /// <summary>Python slicing (<c>[start:stop:step]</c>); strings are sliced by code point.</summary>
    public static JinjaValue Slice(JinjaValue target, JinjaValue start, JinjaValue stop, JinjaValue step)
    {
        long? Part(JinjaValue value, string name) => value switch
        {
            JinjaInteger i => i.Value,
            JinjaUndefined => null,
            _ => throw new JinjaRuntimeException($"slice {name} must be an integer, not {JinjaInterpreter.Describe(value)}"),
        };

        var from = Part(start, "start");
        var to = Part(stop, "stop");
        var by = Part(step, "step") ?? 1;
        if (by == 0)
        {
            throw new JinjaRuntimeException("slice step cannot be zero");
        }

        switch (target)
        {
            case JinjaList list:
                return new JinjaList([.. SliceIndices(list.Items.Count, from, to, by).Select(i => list.Items[i])]);
            case JinjaString text:
                var runes = text.Value.EnumerateRunes().ToList();
                var builder = new StringBuilder();
                foreach (var i in SliceIndices(runes.Count, from, to, by))
                {
                    builder.Append(runes[i].ToString());
                }

                return new JinjaString(builder.ToString());
            default:
                throw new JinjaRuntimeException($"cannot slice {JinjaInterpreter.Describe(target)}");
        }
    }

    private static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long step)
    {
        long first, end;
        if (step > 0)
        {
            first = start is { } s ? (s < 0 ? Math.Max(length + s, 0) : Math.Min(s, length)) : 0;
            end = stop is { } e ? (e < 0 ? Math.Max(length + e, 0) : Math.Min(e, length)) : length;
            for (var i = first; i < end; i += step)
            {
                yield return (int)i;
            }
        }
        else
        {
            first = start is { } s ? (s < 0 ? Math.Max(length + s, -1) : Math.Min(s, length - 1)) : length - 1;
            end = stop is { } e ? (e < -1 ? Math.Max(length + e, -1) : Math.Min(e, length - 1)) : -1;
            for (var i = first; i > end; i += step)
            {
                yield return (int)i;
            }
        }
    }

    private static JinjaValue? StringMethod(string text, string name)
    {
        JinjaFunction Method(Func<JinjaArguments, JinjaValue> body) => new(name, body);
        return name switch
        {
            "length" => new JinjaInteger(text.Length),
            "upper" => Method(_ => new JinjaString(text.ToUpperInvariant())),
            "lower" => Method(_ => new JinjaString(text.ToLowerInvariant())),
            "strip" => Method(a => new JinjaString(Strip(text, Chars(a), start: true, end: true))),
            "lstrip" => Method(a => new JinjaString(Strip(text, Chars(a), start: true, end: false))),
            "rstrip" => Method(a => new JinjaString(Strip(text, Chars(a), start: false, end: true))),
            "title" => Method(_ => new JinjaString(Title(text))),
            "capitalize" => Method(_ => new JinjaString(text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..])),
            "startswith" => Method(a => JinjaValue.From(Affix(a, name).Any(p => text.StartsWith(p, StringComparison.Ordinal)))),
            "endswith" => Method(a => JinjaValue.From(Affix(a, name).Any(p => text.EndsWith(p, StringComparison.Ordinal)))),
            "split" => Method(a => Split(text, a)),
            "replace" => Method(a => Replace(text, a)),
            _ => null,
        };
    }

    private static string? Chars(JinjaArguments arguments) => arguments.Get(0, "chars") switch
    {
        null or JinjaNone => null,
        JinjaString s => s.Value,
        var other => throw new JinjaRuntimeException($"strip characters must be a string, not {JinjaInterpreter.Describe(other)}"),
    };

    /// <summary>Python's strip: whitespace when <paramref name="chars"/> is null, else any of those characters.</summary>
    public static string Strip(string text, string? chars, bool start, bool end)
    {
        if (chars is null)
        {
            return start && end ? JinjaLexer.TrimJs(text) : start ? JinjaLexer.TrimStartJs(text) : JinjaLexer.TrimEndJs(text);
        }

        var from = 0;
        var to = text.Length;
        while (start && from < to && chars.Contains(text[from], StringComparison.Ordinal))
        {
            from++;
        }

        while (end && to > from && chars.Contains(text[to - 1], StringComparison.Ordinal))
        {
            to--;
        }

        return text[from..to];
    }

    public static string Title(string text)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (JinjaLexer.IsWordChar(chars[i]) && (i == 0 || !JinjaLexer.IsWordChar(chars[i - 1])))
            {
                chars[i] = char.ToUpperInvariant(chars[i]);
            }
        }

        return new string(chars);
    }

    private static IEnumerable<string> Affix(JinjaArguments arguments, string name) => arguments.Get(0, "prefix") switch
    {
        JinjaString s => [s.Value],
        JinjaList list => list.Items.Select(i => i is JinjaString s ? s.Value : throw new JinjaRuntimeException($"{name}() tuple elements must be strings")),
        _ => throw new JinjaRuntimeException($"{name}() takes a string or a tuple of strings"),
    };

    private static JinjaList Split(string text, JinjaArguments arguments)
    {
        var separator = arguments.Get(0, "sep") ?? JinjaNone.Instance;
        var limit = arguments.Get(1, "maxsplit") switch
        {
            null => -1,
            JinjaInteger i => i.Value,
            var other => throw new JinjaRuntimeException($"split() maxsplit must be an integer, not {JinjaInterpreter.Describe(other)}"),
        };
        var parts = new List<string>();
        switch (separator)
        {
            case JinjaNone:
                var rest = JinjaLexer.TrimStartJs(text);
                while (rest.Length > 0)
                {
                    if (limit != -1 && parts.Count >= limit)
                    {
                        parts.Add(rest);
                        break;
                    }

                    var end = 0;
                    while (end < rest.Length && !JinjaLexer.IsJsWhitespace(rest[end]))
                    {
                        end++;
                    }

                    parts.Add(rest[..end]);
                    rest = JinjaLexer.TrimStartJs(rest[end..]);
                }

                break;
            case JinjaString { Value.Length: 0 }:
                throw new JinjaRuntimeException("split() separator is empty");
            case JinjaString sep:
                var all = text.Split(sep.Value);
                if (limit != -1 && all.Length > limit)
                {
                    parts.AddRange(all.Take((int)limit));
                    parts.Add(string.Join(sep.Value, all.Skip((int)limit)));
                }
                else
                {
                    parts.AddRange(all);
                }

                break;
            default:
                throw new JinjaRuntimeException($"split() separator must be a string or none, not {JinjaInterpreter.Describe(separator)}");
        }

        return new JinjaList([.. parts.Select(p => (JinjaValue)new JinjaString(p))]);
    }

    public static JinjaString Replace(string text, JinjaArguments arguments)
    {
        if (arguments.Get(0, "old") is not JinjaString old || arguments.Get(1, "new") is not JinjaString replacement)
        {
            throw new JinjaRuntimeException("replace() takes two strings");
        }

        var count = arguments.Get(2, "count") switch
        {
            null or JinjaNone => -1,
            JinjaInteger i => i.Value,
            var other => throw new JinjaRuntimeException($"replace() count must be an integer, not {JinjaInterpreter.Describe(other)}"),
        };
        if (count == 0)
        {
            return new JinjaString(text);
        }

        if (old.Value.Length == 0)
        {
            // Python inserts the replacement between code points and at both ends.
            var runes = text.EnumerateRunes().Select(r => r.ToString()).ToList();
            var output = new StringBuilder();
            var inserted = 0L;
            for (var i = 0; i <= runes.Count; i++)
            {
                if (count < 0 || inserted < count)
                {
                    output.Append(replacement.Value);
                    inserted++;
                }

                if (i < runes.Count)
                {
                    output.Append(runes[i]);
                }
            }

            return new JinjaString(output.ToString());
        }

        var result = new StringBuilder();
        var at = 0;
        var done = 0L;
        while (count < 0 || done < count)
        {
            var found = text.IndexOf(old.Value, at, StringComparison.Ordinal);
            if (found < 0)
            {
                break;
            }

            result.Append(text, at, found - at).Append(replacement.Value);
            at = found + old.Value.Length;
            done++;
        }

        return new JinjaString(result.Append(text, at, text.Length - at).ToString());
    }

    private static JinjaFunction? DictMethod(JinjaDict dict, string name) => name switch
    {
        "get" => new JinjaFunction(name, a =>
        {
            if (a.Get(0, "key") is not JinjaString key)
            {
                throw new JinjaRuntimeException("get() takes a string key");
            }

            return dict.Entries.TryGetValue(key.Value, out var value) ? value : a.Get(1, "default") ?? JinjaNone.Instance;
        }),
        "items" => new JinjaFunction(name, _ => Items(dict)),
        "keys" => new JinjaFunction(name, _ => new JinjaList([.. dict.Entries.Keys.Select(k => (JinjaValue)new JinjaString(k))])),
        "values" => new JinjaFunction(name, _ => new JinjaList([.. dict.Entries.Values])),
        "dictsort" => new JinjaFunction(name, a => DictSort(dict, a)),
        _ => null,
    };

    public static JinjaList Items(JinjaDict dict) =>
        new([.. dict.Entries.Select(e => (JinjaValue)new JinjaList([new JinjaString(e.Key), e.Value]))]);

    private static JinjaList DictSort(JinjaDict dict, JinjaArguments arguments)
    {
        var caseSensitive = JinjaFilters.BoolArgument(arguments, 0, "case_sensitive", false);
        var by = arguments.Get(1, "by") switch
        {
            null => "key",
            JinjaString { Value: "key" or "value" } s => s.Value,
            _ => throw new JinjaRuntimeException("dictsort() 'by' must be 'key' or 'value'"),
        };
        var reverse = JinjaFilters.BoolArgument(arguments, 2, "reverse", false);
        var index = by == "key" ? 0 : 1;
        var items = Items(dict).Items;
        var sorted = items.Order(Comparer<JinjaValue>.Create((x, y) =>
        {
            var order = JinjaFilters.Compare(((JinjaList)x).Items[index], ((JinjaList)y).Items[index], caseSensitive);
            return reverse ? -order : order;
        }));
        return new JinjaList([.. sorted]);
    }
}
