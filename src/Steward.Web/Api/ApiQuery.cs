using System.Globalization;

namespace Steward.Web.Api;

/// <summary>
/// Route and query values read by hand rather than bound by the framework, so a malformed one is a ProblemDetails that
/// names the parameter and the form it takes, not an empty 400.
/// </summary>
internal static class ApiQuery
{
    public const int DefaultTake = 50;

    /// <summary>An id (a GUID) in route or query parameter <paramref name="name"/>.</summary>
    public static Guid Id(string name, string? value, string what) =>
        Guid.TryParse(value, out var id)
            ? id
            : throw ApiProblem.Invalid(name, $"'{value}' is not a {what} id; ids are GUIDs such as 0198c3a2-5b6e-7c1d-8e9f-0a1b2c3d4e5f.");

    public static bool? Bool(string name, string? value) =>
        string.IsNullOrEmpty(value) ? null
        : bool.TryParse(value, out var flag) ? flag
        : throw ApiProblem.Invalid(name, $"'{value}' is not true or false.");

    public static DateTimeOffset? Date(string name, string? value) =>
        string.IsNullOrEmpty(value) ? null
        : DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at
        : throw ApiProblem.Invalid(name, $"'{value}' is not a date; use ISO 8601, e.g. 2026-11-30 or 2026-11-30T12:00:00Z.");

    /// <summary>A from-to range; <c>to</c> must not come before <c>from</c>.</summary>
    public static (DateTimeOffset? From, DateTimeOffset? To) Range(string? from, string? to)
    {
        var start = Date("from", from);
        var end = Date("to", to);
        return start is { } f && end is { } t && t < f ? throw ApiProblem.Invalid("to", "must not be before from.") : (start, end);
    }

    /// <summary>Skip (0 or more, default 0) and take (1 to <paramref name="max"/>, default 50).</summary>
    public static (int Skip, int Take) Page(string? skip, string? take, int max)
    {
        var s = Int("skip", skip) ?? 0;
        if (s < 0)
        {
            throw ApiProblem.Invalid("skip", "must be 0 or more.");
        }

        var t = Int("take", take) ?? Math.Min(DefaultTake, max);
        return t < 1 || t > max ? throw ApiProblem.Invalid("take", $"must be between 1 and {max}.") : (s, t);
    }

    private static int? Int(string name, string? value) =>
        string.IsNullOrEmpty(value) ? null
        : int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
        : throw ApiProblem.Invalid(name, $"'{value}' is not a whole number.");
}
