using System.Globalization;

namespace Steward.Telemetry;

/// <summary>How a span attribute's value reads on a screen, the same in the web app and the terminal.</summary>
public static class SpanValueText
{
    /// <summary>
    /// The value as text. A double that came from a float (a temperature of 0.7f is recorded as 0.699999988079071) is
    /// written as the float it was; other numbers in the invariant culture; arrays comma-separated.
    /// </summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        string s => s,
        double d when double.IsFinite(d) && (double)(float)d == d => ((float)d).ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("0.##########", CultureInfo.InvariantCulture),
        float f => f.ToString(CultureInfo.InvariantCulture),
        string[] items => string.Join(", ", items),
        System.Collections.IEnumerable items => string.Join(", ", items.Cast<object?>().Select(Format)),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
