using System.Globalization;
using Steward.Agents;

namespace Steward.Web.Chat;

/// <summary>How numbers read on the metric cards and tables: one place, so every page says the same thing.</summary>
internal static class MetricFormat
{
    /// <summary>
    /// A model as people know it: a local GGUF model is recorded by its file path, whose folder is this machine's
    /// business, so only the file name is shown.
    /// </summary>
    public static string ModelName(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? Path.GetFileName(model) : model;
    }

    public static string Tokens(long tokens) => tokens.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Unpriced is never shown as free; self-hosted says why it costs nothing.</summary>
    public static string Cost(RunCost? cost) => cost switch
    {
        null => "—",
        { SelfHosted: true } => "$0 (self-hosted)",
        { Usd: null } => "unpriced",
        { Usd: { } usd } => Usd(usd),
    };

    public static string Usd(decimal? usd) => usd switch
    {
        null => "unpriced",
        0m => "$0",
        < 0.01m => "$" + usd.Value.ToString("0.######", CultureInfo.InvariantCulture),
        _ => "$" + usd.Value.ToString("N2", CultureInfo.InvariantCulture),
    };

    public static string Duration(TimeSpan? duration) => duration switch
    {
        null => "—",
        { TotalMilliseconds: < 1000 } d => d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms",
        { } d => d.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s",
    };

    public static string Milliseconds(double? ms) => Duration(ms is { } m ? TimeSpan.FromMilliseconds(m) : null);

    /// <summary>A quality score on its 0–100 scale.</summary>
    public static string Quality(double? score) => score is { } s ? s.ToString("0.#", CultureInfo.InvariantCulture) : "—";

    /// <summary>A metric in its evaluator's own scale (a ratio, a count, a 1–5 rating).</summary>
    public static string MetricValue(double? value) => value is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "—";
}
