using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Steward.Cli.Parsing;

/// <summary>
/// How every typed command-line value is read: numbers in the invariant culture, finite and in range; enums by name;
/// ids and dates in one format. A bad value becomes one parse error naming the option and what it accepts (exit code
/// 2), never an exception: System.CommandLine's own converters leave a failed value behind for validators to trip on.
/// </summary>
internal static class CliValues
{
    /// <summary>Limits an option to <paramref name="min"/>..<paramref name="max"/> (inclusive).</summary>
    public static Option<T?> Within<T>(this Option<T?> option, T min, T max) where T : struct, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(option);
        option.CustomParser = result => (T?)Parse(result, typeof(T), min, max);
        return option;
    }

    /// <inheritdoc cref="Within{T}(Option{T?}, T, T)"/>
    public static Option<T> Within<T>(this Option<T> option, T min, T max) where T : struct, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(option);
        option.CustomParser = result => Parse(result, typeof(T), min, max) is T value ? value : default;
        return option;
    }

    /// <summary>
    /// Gives every typed option and argument of <paramref name="command"/> and its subcommands that has no parser of its
    /// own the strict one for its type, so a command added later is covered without remembering to.
    /// </summary>
    public static void ApplyTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in command.Options)
        {
            Install(option, option.ValueType);
        }

        foreach (var argument in command.Arguments)
        {
            Install(argument, argument.ValueType);
        }

        foreach (var sub in command.Subcommands)
        {
            ApplyTo(sub);
        }
    }

    /// <summary>Whether values of <paramref name="type"/> are read by <see cref="CliValues"/> (numbers, enums, ids, dates).</summary>
    public static bool IsHandled(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsEnum || t == typeof(Guid) || t == typeof(DateOnly) || Describe(t) is not null;
    }

    private static void Install(Symbol symbol, Type type)
    {
        if (!IsHandled(type))
        {
            return;
        }

        // Option<T>.CustomParser and Argument<T>.CustomParser are typed; set them through the generic helper.
        typeof(CliValues).GetMethod(symbol is Option ? nameof(InstallOption) : nameof(InstallArgument), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(type).Invoke(null, [symbol]);
    }

    private static void InstallOption<T>(Option<T> option) =>
        option.CustomParser ??= result => Parse(result, typeof(T), null, null) is T value ? value : default;

    private static void InstallArgument<T>(Argument<T> argument) =>
        argument.CustomParser ??= result => Parse(result, typeof(T), null, null) is T value ? value : default;

    /// <summary>Reads the one token of <paramref name="result"/>, or adds a one-line error and returns null.</summary>
    private static object? Parse(ArgumentResult result, Type type, object? min, object? max)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        var name = result.Parent is OptionResult o ? o.Option.Name : $"<{result.Argument.Name}>";
        if (result.Tokens.Count == 0)
        {
            result.AddError($"{name}: a value is missing; it must be {Expected(target, min, max)}.");
            return null;
        }

        var text = result.Tokens[0].Value;
        if (TryRead(target, text, out var value) && InRange(value, min, max))
        {
            return value;
        }

        result.AddError($"{name}: '{Shorten(text)}' is not {Expected(target, min, max)}.");
        return null;
    }

    private static bool TryRead(Type target, string text, out object? value)
    {
        value = null;
        var c = CultureInfo.InvariantCulture;
        if (target.IsEnum)
        {
            // Enum.TryParse also takes numbers ("7"), which are not names a user should rely on.
            var match = Enum.GetNames(target).FirstOrDefault(n => string.Equals(n, text.Trim(), StringComparison.OrdinalIgnoreCase));
            value = match is null ? null : Enum.Parse(target, match);
            return match is not null;
        }

        bool ok;
        (ok, value) = target switch
        {
            _ when target == typeof(int) => (int.TryParse(text, NumberStyles.Integer, c, out var v), v),
            _ when target == typeof(long) => (long.TryParse(text, NumberStyles.Integer, c, out var v), v),
            _ when target == typeof(double) => (double.TryParse(text, NumberStyles.Float, c, out var v) && double.IsFinite(v), v),
            _ when target == typeof(float) => (float.TryParse(text, NumberStyles.Float, c, out var v) && float.IsFinite(v), v),
            _ when target == typeof(decimal) => (decimal.TryParse(text, NumberStyles.Float, c, out var v), v),
            _ when target == typeof(Guid) => (Guid.TryParse(text, out var v), v),
            _ when target == typeof(DateOnly) => (DateOnly.TryParseExact(text, "yyyy-MM-dd", c, DateTimeStyles.None, out var v), v),
            _ => (false, (object?)null),
        };
        return ok;
    }

    private static bool InRange(object? value, object? min, object? max) =>
        value is IComparable comparable && (min is null || comparable.CompareTo(min) >= 0) && (max is null || comparable.CompareTo(max) <= 0);

    private static string Expected(Type target, object? min, object? max)
    {
        if (target.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(target).Select(n => n.ToLowerInvariant()));
        }

        if (target == typeof(Guid))
        {
            return "an id (a GUID such as 0198c3a2-5b7e-7c41-9f2d-3a6b1e4c8d90)";
        }

        if (target == typeof(DateOnly))
        {
            return "a date as yyyy-MM-dd";
        }

        var kind = Describe(target)!;
        if (min is null && max is null && target == typeof(int))
        {
            (min, max) = (int.MinValue, int.MaxValue);
        }

        return (min, max) switch
        {
            (null, null) => kind,
            ({ } low, { } high) => $"{kind} from {Format(low)} to {Format(high)}",
            ({ } low, null) => $"{kind} of at least {Format(low)}",
            (null, { } high) => $"{kind} of at most {Format(high)}",
        };
    }

    private static string? Describe(Type t) =>
        t == typeof(int) || t == typeof(long) ? "a whole number"
        : t == typeof(double) || t == typeof(float) || t == typeof(decimal) ? "a number"
        : null;

    private static string Format(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;

    // A pasted paragraph must not turn the one-line error into many.
    private static string Shorten(string text)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length > 40 ? line[..40] + "…" : line;
    }
}
