namespace Steward.Storage;

/// <summary>
/// Money as stored: whole billionths of a USD in a 64-bit integer. Exact for every list price per token, and
/// summable in SQL (SQLite cannot sum decimals).
/// </summary>
internal static class NanoUsd
{
    private const decimal PerUsd = 1_000_000_000m;

    public static long? FromUsd(decimal? usd) => usd is { } v ? (long)decimal.Round(v * PerUsd) : null;

    public static decimal? ToUsd(long? nano) => nano is { } v ? v / PerUsd : null;

    public static decimal ToUsd(long nano) => nano / PerUsd;
}
