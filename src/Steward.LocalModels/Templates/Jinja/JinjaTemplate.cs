using System.Globalization;
using System.Text;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// A parsed Jinja template, rendered the way Hugging Face renders chat templates (@huggingface/jinja, with
/// <c>trim_blocks</c> and <c>lstrip_blocks</c>). Globals: <c>true</c>/<c>false</c>/<c>none</c> (and Python's
/// capitalised spellings), <c>range</c>, <c>namespace</c>, <c>raise_exception</c>, <c>strftime_now</c>.
/// Parsing fails up front on syntax the interpreter does not know; rendering fails on a filter, test or operation it
/// does not support. Both throw <see cref="ChatTemplateException"/> naming the construct, line and column.
/// Instances are immutable and may render from several threads at once.
/// </summary>
internal sealed class JinjaTemplate
{
    private readonly JinjaSource _source;
    private readonly IReadOnlyList<JinjaNode> _body;
    private readonly HashSet<string> _identifiers;

    private JinjaTemplate(JinjaSource source, IReadOnlyList<JinjaNode> body, HashSet<string> identifiers)
    {
        _source = source;
        _body = body;
        _identifiers = identifiers;
    }

    /// <exception cref="ChatTemplateException">The template is malformed or uses a statement Steward does not interpret.</exception>
    public static JinjaTemplate Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var source = JinjaSource.Preprocess(template);
        var identifiers = JinjaLexer.Tokenize(source).Where(t => t.Kind == JinjaTokenKind.Identifier).Select(t => t.Value).ToHashSet(StringComparer.Ordinal);
        return new JinjaTemplate(source, JinjaParser.Parse(source), identifiers);
    }

    /// <summary>Whether the template's code mentions <paramref name="name"/> (for example <c>tools</c>), outside text and strings.</summary>
    public bool Mentions(string name) => _identifiers.Contains(name);

    /// <exception cref="ChatTemplateException">An unsupported construct was reached, or the template called raise_exception.</exception>
    public string Render(IReadOnlyDictionary<string, JinjaValue> variables, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(variables);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var globals = new JinjaScope();
        globals.Set("true", JinjaBool.True);
        globals.Set("false", JinjaBool.False);
        globals.Set("none", JinjaNone.Instance);
        globals.Set("True", JinjaBool.True);
        globals.Set("False", JinjaBool.False);
        globals.Set("None", JinjaNone.Instance);
        globals.Set("range", new JinjaFunction("range", Range));
        globals.Set("namespace", new JinjaFunction("namespace", Namespace));
        globals.Set("raise_exception", new JinjaFunction("raise_exception", a =>
            throw new JinjaRaisedException(a.Positional.Count > 0 ? JinjaOperators.ToJsString(a.Positional[0]) : "(no message)")));
        globals.Set("strftime_now", new JinjaFunction("strftime_now", a =>
            a.Get(0, "format") is JinjaString format
                ? new JinjaString(Strftime(timeProvider.GetLocalNow(), format.Value))
                : throw new JinjaRuntimeException("strftime_now() takes a format string")));
        var scope = new JinjaScope(globals);
        foreach (var (name, value) in variables)
        {
            scope.Set(name, value);
        }

        return new JinjaInterpreter(_source).Render(_body, scope);
    }

    private static JinjaList Range(JinjaArguments arguments)
    {
        var numbers = arguments.Positional.Select(v => v is JinjaInteger i ? i.Value : throw new JinjaRuntimeException("range() takes integers")).ToList();
        var (start, stop, step) = numbers.Count switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new JinjaRuntimeException("range() takes one to three integers"),
        };
        if (step == 0)
        {
            throw new JinjaRuntimeException("range() step must not be zero");
        }

        var items = new List<JinjaValue>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (items.Count >= 1_000_000)
            {
                throw new JinjaRuntimeException("range() is limited to a million items");
            }

            items.Add(new JinjaInteger(i));
        }

        return new JinjaList(items);
    }

    private static JinjaNamespace Namespace(JinjaArguments arguments)
    {
        var entries = new OrderedDictionary<string, JinjaValue>(StringComparer.Ordinal);
        if (arguments.Positional.Count > 1)
        {
            throw new JinjaRuntimeException($"namespace() takes at most one positional argument, got {arguments.Positional.Count}");
        }

        if (arguments.Positional.Count == 1)
        {
            switch (arguments.Positional[0])
            {
                case JinjaDict dict:
                    foreach (var (key, value) in dict.Entries)
                    {
                        entries[key] = value;
                    }

                    break;
                case JinjaList list:
                    foreach (var pair in list.Items)
                    {
                        if (pair is not JinjaList { Items: [JinjaString key, var value] })
                        {
                            throw new JinjaRuntimeException("namespace() takes a dict or a list of [key, value] pairs");
                        }

                        entries[key.Value] = value;
                    }

                    break;
                default:
                    throw new JinjaRuntimeException("namespace() takes a dict or a list of [key, value] pairs");
            }
        }

        foreach (var (key, value) in arguments.Keyword)
        {
            entries[key] = value;
        }

        return new JinjaNamespace(entries);
    }

    /// <summary>
    /// strftime for <c>strftime_now</c>: %Y %m %d %b %B %H %M %% as @huggingface/jinja writes them (English month
    /// names), plus %S %y %a %A %I %p %j; any other directive is left as written.
    /// </summary>
    internal static string Strftime(DateTimeOffset time, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                output.Append(format[i]);
                continue;
            }

            var directive = format[++i];
            output.Append(directive switch
            {
                'Y' => time.Year.ToString(culture),
                'm' => time.Month.ToString("00", culture),
                'd' => time.Day.ToString("00", culture),
                'b' => time.ToString("MMM", culture),
                'B' => time.ToString("MMMM", culture),
                'H' => time.Hour.ToString("00", culture),
                'M' => time.Minute.ToString("00", culture),
                'S' => time.Second.ToString("00", culture),
                'y' => (time.Year % 100).ToString("00", culture),
                'a' => time.ToString("ddd", culture),
                'A' => time.ToString("dddd", culture),
                'I' => (time.Hour % 12 == 0 ? 12 : time.Hour % 12).ToString("00", culture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => time.DayOfYear.ToString("000", culture),
                '%' => "%",
                _ => "%" + directive,
            });
        }

        return output.ToString();
    }
}
