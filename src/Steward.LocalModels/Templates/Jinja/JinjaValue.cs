using System.Globalization;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// A value inside a template, with @huggingface/jinja's semantics: integers and floats are distinct (1.0 prints
/// "1.0"), dictionaries keep insertion order, lists and dictionaries are truthy when non-empty, and printing a list or
/// dictionary writes its JSON.
/// </summary>
internal abstract class JinjaValue
{
    /// <summary>Type name used in error messages.</summary>
    public abstract string TypeName { get; }

    public virtual bool IsTruthy => true;

    /// <summary>The text <c>{{ value }}</c> writes.</summary>
    public abstract string Render();

    public static JinjaValue From(bool value) => value ? JinjaBool.True : JinjaBool.False;

    public static JinjaValue From(string? value) => value is null ? JinjaNone.Instance : new JinjaString(value);
}

internal sealed class JinjaUndefined : JinjaValue
{
    public static readonly JinjaUndefined Instance = new();

    private JinjaUndefined()
    {
    }

    public override string TypeName => "undefined";

    public override bool IsTruthy => false;

    public override string Render() => string.Empty;
}

internal sealed class JinjaNone : JinjaValue
{
    public static readonly JinjaNone Instance = new();

    private JinjaNone()
    {
    }

    public override string TypeName => "none";

    public override bool IsTruthy => false;

    public override string Render() => string.Empty;
}

internal sealed class JinjaBool : JinjaValue
{
    public static readonly JinjaBool True = new(true);
    public static readonly JinjaBool False = new(false);

    private JinjaBool(bool value) => Value = value;

    public bool Value { get; }

    public override string TypeName => "boolean";

    public override bool IsTruthy => Value;

    public override string Render() => Value ? "true" : "false";
}

internal sealed class JinjaInteger(long value) : JinjaValue
{
    public long Value { get; } = value;

    public override string TypeName => "integer";

    public override bool IsTruthy => Value != 0;

    public override string Render() => Value.ToString(CultureInfo.InvariantCulture);
}

internal sealed class JinjaFloat(double value) : JinjaValue
{
    public double Value { get; } = value;

    public override string TypeName => "float";

    public override bool IsTruthy => Value != 0 && !double.IsNaN(Value);

    public override string Render()
    {
        if (Value == 0 && double.IsNegative(Value))
        {
            return "-0.0";
        }

        // JavaScript's toFixed(1) switches to exponent notation from 1e21 on, with no ".0".
        return double.IsFinite(Value) && Value % 1 == 0 && Math.Abs(Value) < 1e21 ? JsNumber.Format(Value) + ".0" : JsNumber.Format(Value);
    }
}

internal sealed class JinjaString(string value) : JinjaValue
{
    public static readonly JinjaString Empty = new(string.Empty);

    public string Value { get; } = value;

    public override string TypeName => "string";

    public override bool IsTruthy => Value.Length > 0;

    public override string Render() => Value;
}

internal sealed class JinjaList(List<JinjaValue> items, bool isTuple = false) : JinjaValue
{
    public List<JinjaValue> Items { get; } = items;

    public bool IsTuple { get; } = isTuple;

    public override string TypeName => IsTuple ? "tuple" : "list";

    public override bool IsTruthy => Items.Count > 0;

    public override string Render() => IsTuple
        ? throw new JinjaRuntimeException("cannot print a tuple")
        : JinjaJson.Serialize(this, JinjaJsonOptions.Default, undefinedAsNull: false);
}

internal sealed class JinjaDict(OrderedDictionary<string, JinjaValue> entries) : JinjaValue
{
    public JinjaDict()
        : this(new OrderedDictionary<string, JinjaValue>(StringComparer.Ordinal))
    {
    }

    public OrderedDictionary<string, JinjaValue> Entries { get; } = entries;

    public override string TypeName => "dict";

    public override bool IsTruthy => Entries.Count > 0;

    public override string Render() => JinjaJson.Serialize(this, JinjaJsonOptions.Default, undefinedAsNull: false);
}

/// <summary>The mutable object <c>namespace(...)</c> returns; the only value <c>{% set ns.attr = ... %}</c> may assign into.</summary>
internal sealed class JinjaNamespace(OrderedDictionary<string, JinjaValue> entries) : JinjaValue
{
    public OrderedDictionary<string, JinjaValue> Entries { get; } = entries;

    public override string TypeName => "namespace";

    public override string Render() => JinjaJson.Serialize(this, JinjaJsonOptions.Default, undefinedAsNull: false);
}

/// <summary>A callable: a global (range, namespace...), a bound method ('x'.upper), or a macro.</summary>
internal sealed class JinjaFunction(string name, Func<JinjaArguments, JinjaValue> invoke) : JinjaValue
{
    public string Name { get; } = name;

    public override string TypeName => "function";

    public JinjaValue Invoke(JinjaArguments arguments) => invoke(arguments);

    public override string Render() => throw new JinjaRuntimeException($"cannot print the function '{Name}'; call it");
}

/// <summary>Evaluated call arguments: positional in order, keyword by name.</summary>
internal sealed class JinjaArguments(List<JinjaValue> positional, OrderedDictionary<string, JinjaValue> keyword)
{
    public static JinjaArguments None => new([], new OrderedDictionary<string, JinjaValue>(StringComparer.Ordinal));

    public List<JinjaValue> Positional { get; } = positional;

    public OrderedDictionary<string, JinjaValue> Keyword { get; } = keyword;

    /// <summary>The body of a <c>{% call %}</c> block, bound as <c>caller</c> inside the called macro.</summary>
    public JinjaFunction? Caller { get; set; }

    /// <summary>The argument at <paramref name="index"/>, else the keyword <paramref name="name"/>, else null.</summary>
    public JinjaValue? Get(int index, string name) =>
        index < Positional.Count ? Positional[index] : Keyword.TryGetValue(name, out var value) ? value : null;
}

/// <summary>A failure while evaluating, without a place; the interpreter adds the line and column of the node.</summary>
internal sealed class JinjaRuntimeException : Exception
{
    public JinjaRuntimeException()
    {
    }

    public JinjaRuntimeException(string message)
        : base(message)
    {
    }

    public JinjaRuntimeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The template called <c>raise_exception(message)</c>.</summary>
internal sealed class JinjaRaisedException : Exception
{
    public JinjaRaisedException()
    {
    }

    public JinjaRaisedException(string message)
        : base(message)
    {
    }

    public JinjaRaisedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>JavaScript's Number.prototype.toString for doubles (what @huggingface/jinja and JSON.stringify print).</summary>
internal static class JsNumber
{
    public static string Format(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        if (value == 0)
        {
            return "0";
        }

        // Shortest round-trip digits and the decimal exponent, laid out by ECMAScript's Number::toString rules.
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var (digits, exponent) = Decompose(shortest);
        var k = digits.Length;
        var n = exponent;
        var sign = value < 0 ? "-" : string.Empty;
        if (k <= n && n <= 21)
        {
            return sign + digits + new string('0', n - k);
        }

        if (0 < n && n <= 21)
        {
            return sign + digits[..n] + "." + digits[n..];
        }

        if (-6 < n && n <= 0)
        {
            return sign + "0." + new string('0', -n) + digits;
        }

        var e = n - 1;
        var mantissa = k == 1 ? digits : digits[..1] + "." + digits[1..];
        return sign + mantissa + "e" + (e >= 0 ? "+" : "-") + Math.Abs(e).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Digits without leading/trailing zeros and n such that the value is 0.digits × 10^n.</summary>
    private static (string Digits, int N) Decompose(string text)
    {
        var exponent = 0;
        var e = text.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }

        var point = text.IndexOf('.', StringComparison.Ordinal);
        var integerPart = point >= 0 ? text[..point] : text;
        var fraction = point >= 0 ? text[(point + 1)..] : string.Empty;
        var all = integerPart + fraction;
        var n = integerPart.Length + exponent;
        var lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0')
        {
            lead++;
        }

        all = all[lead..];
        n -= lead;
        return (all.TrimEnd('0') is { Length: > 0 } trimmed ? trimmed : "0", n);
    }
}
