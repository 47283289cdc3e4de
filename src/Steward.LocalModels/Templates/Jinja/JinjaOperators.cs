using System.Globalization;

namespace Steward.LocalModels.Templates.Jinja;

/// <summary>
/// Binary and unary operators with @huggingface/jinja's semantics: == is JavaScript's loose equality on the
/// underlying value, + concatenates when either side is a string, / always gives a float, arithmetic on none or
/// undefined fails, <c>x in undefined</c> is false.
/// </summary>
internal static class JinjaOperators
{
    public static JinjaValue Binary(string op, JinjaValue left, JinjaValue right)
    {
        switch (op)
        {
            case "==":
                return JinjaValue.From(LooseEquals(left, right));
            case "!=":
                return JinjaValue.From(!LooseEquals(left, right));
        }

        if (left is JinjaUndefined || right is JinjaUndefined)
        {
            if (right is JinjaUndefined && op is "in" or "not in")
            {
                return JinjaValue.From(op == "not in");
            }

            throw new JinjaRuntimeException($"cannot use '{op}' on an undefined value");
        }

        if (left is JinjaNone || right is JinjaNone)
        {
            throw new JinjaRuntimeException($"cannot use '{op}' on none");
        }

        if (op == "~")
        {
            return new JinjaString(ToJsString(left) + ToJsString(right));
        }

        if (IsNumeric(left, out var a, out var leftFloat) && IsNumeric(right, out var b, out var rightFloat)
            && (op == "**" || (left is not JinjaBool && right is not JinjaBool)))
        {
            return Arithmetic(op, a, b, leftFloat || rightFloat);
        }

        if (left is JinjaList l && right is JinjaList r && op == "+")
        {
            return new JinjaList([.. l.Items, .. r.Items]);
        }

        if (right is JinjaList list && op is "in" or "not in")
        {
            var found = list.Items.Any(item => StrictEquals(item, left));
            return JinjaValue.From(found == (op == "in"));
        }

        if ((left is JinjaString || right is JinjaString) && op == "+")
        {
            return new JinjaString(ToJsString(left) + ToJsString(right));
        }

        if (left is JinjaString ls && right is JinjaString rs)
        {
            switch (op)
            {
                case "in":
                    return JinjaValue.From(rs.Value.Contains(ls.Value, StringComparison.Ordinal));
                case "not in":
                    return JinjaValue.From(!rs.Value.Contains(ls.Value, StringComparison.Ordinal));
                case "<" or ">" or "<=" or ">=":
                    var order = string.CompareOrdinal(ls.Value, rs.Value);
                    return JinjaValue.From(op switch { "<" => order < 0, ">" => order > 0, "<=" => order <= 0, _ => order >= 0 });
            }
        }

        if (left is JinjaString key && right is JinjaDict dict && op is "in" or "not in")
        {
            return JinjaValue.From(dict.Entries.ContainsKey(key.Value) == (op == "in"));
        }

        throw new JinjaRuntimeException($"unsupported operator '{op}' between {JinjaInterpreter.Describe(left)} and {JinjaInterpreter.Describe(right)}");
    }

    public static JinjaValue Unary(string op, JinjaValue operand)
    {
        if (op == "not")
        {
            return JinjaValue.From(!operand.IsTruthy);
        }

        var sign = op == "-" ? -1 : 1;
        return operand switch
        {
            JinjaInteger i => new JinjaInteger(sign * i.Value),
            JinjaFloat f => new JinjaFloat(sign * f.Value),
            JinjaBool b => new JinjaInteger(sign * (b.Value ? 1 : 0)),
            _ => throw new JinjaRuntimeException($"unsupported operator '{op}' on {JinjaInterpreter.Describe(operand)}"),
        };
    }

    private static JinjaValue Arithmetic(string op, double a, double b, bool isFloat)
    {
        JinjaValue Number(double value, bool asFloat) => asFloat ? new JinjaFloat(value) : new JinjaInteger((long)value);
        switch (op)
        {
            case "+":
                return Number(a + b, isFloat);
            case "-":
                return Number(a - b, isFloat);
            case "*":
                return Number(a * b, isFloat);
            case "/":
                return new JinjaFloat(a / b);
            case "//":
                if (b == 0 && !isFloat)
                {
                    throw new JinjaRuntimeException("integer division by zero");
                }

                return Number(Math.Floor(a / b), isFloat);
            case "%":
                if (b == 0 && !isFloat)
                {
                    throw new JinjaRuntimeException("integer modulo by zero");
                }

                return Number(a % b, isFloat);
            case "**":
                if (a == 0 && b < 0)
                {
                    throw new JinjaRuntimeException("0.0 cannot be raised to a negative power");
                }

                var power = Math.Pow(a, b);
                if (!double.IsFinite(power))
                {
                    throw new JinjaRuntimeException("the power is not a finite number");
                }

                return Number(power, isFloat || b < 0);
            case "<":
                return JinjaValue.From(a < b);
            case ">":
                return JinjaValue.From(a > b);
            case "<=":
                return JinjaValue.From(a <= b);
            case ">=":
                return JinjaValue.From(a >= b);
            default:
                throw new JinjaRuntimeException($"unsupported operator '{op}' between numbers");
        }
    }

    private static bool IsNumeric(JinjaValue value, out double number, out bool isFloat)
    {
        (var numeric, number, isFloat) = value switch
        {
            JinjaInteger i => (true, (double)i.Value, false),
            JinjaFloat f => (true, f.Value, true),
            JinjaBool b => (true, b.Value ? 1 : 0, false),
            _ => (false, 0, false),
        };
        return numeric;
    }

    /// <summary>JavaScript's == on the underlying values (null == undefined; numbers, booleans and numeric strings compare as numbers).</summary>
    public static bool LooseEquals(JinjaValue left, JinjaValue right)
    {
        if (left is JinjaNone or JinjaUndefined || right is JinjaNone or JinjaUndefined)
        {
            return left is JinjaNone or JinjaUndefined && right is JinjaNone or JinjaUndefined;
        }

        if (left is JinjaString ls && right is JinjaString rs)
        {
            return ls.Value == rs.Value;
        }

        if (ToNumber(left) is { } a && ToNumber(right) is { } b)
        {
            return a == b;
        }

        return ReferenceEquals(left, right);
    }

    /// <summary>JavaScript's === on the underlying values (used by <c>in</c> on lists and <c>unique</c>).</summary>
    public static bool StrictEquals(JinjaValue left, JinjaValue right) => (left, right) switch
    {
        (JinjaString a, JinjaString b) => a.Value == b.Value,
        (JinjaInteger or JinjaFloat, JinjaInteger or JinjaFloat) => ToNumber(left) == ToNumber(right),
        (JinjaBool a, JinjaBool b) => a.Value == b.Value,
        (JinjaNone, JinjaNone) or (JinjaUndefined, JinjaUndefined) => true,
        _ => ReferenceEquals(left, right),
    };

    private static double? ToNumber(JinjaValue value) => value switch
    {
        JinjaInteger i => i.Value,
        JinjaFloat f => f.Value,
        JinjaBool b => b.Value ? 1 : 0,
        JinjaString s => StringToNumber(s.Value),
        _ => null,
    };

    private static double StringToNumber(string text)
    {
        var trimmed = JinjaLexer.TrimJs(text);
        if (trimmed.Length == 0)
        {
            return 0;
        }

        return double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : double.NaN;
    }

    /// <summary>JavaScript's String(value) of the underlying value (numbers without a forced ".0").</summary>
    public static string ToJsString(JinjaValue value) => value switch
    {
        JinjaString s => s.Value,
        JinjaInteger i => i.Value.ToString(CultureInfo.InvariantCulture),
        JinjaFloat f => JsNumber.Format(f.Value),
        JinjaBool b => b.Value ? "true" : "false",
        JinjaNone or JinjaUndefined => string.Empty,
        _ => value.Render(),
    };
}
