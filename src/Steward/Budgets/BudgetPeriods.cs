using System.Globalization;

namespace Steward.Budgets;

/// <summary>
/// Names the period an instant falls in, in the configured time zone: <c>2026-11-23T14</c> (hourly),
/// <c>2026-11-23</c> (daily), <c>2026-W48</c> (ISO week, Monday first), <c>2026-11</c> (monthly), <c>all</c> (none).
/// </summary>
internal static class BudgetPeriods
{
    public static string Key(BudgetPeriod period, DateTimeOffset instant, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(instant, zone).DateTime;
        return period switch
        {
            BudgetPeriod.None => "all",
            BudgetPeriod.Hourly => local.ToString("yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture),
            BudgetPeriod.Daily => local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            BudgetPeriod.Weekly => string.Create(CultureInfo.InvariantCulture, $"{ISOWeek.GetYear(local):0000}-W{ISOWeek.GetWeekOfYear(local):00}"),
            BudgetPeriod.Monthly => local.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            _ => throw new ArgumentOutOfRangeException(nameof(period), period, "Unknown budget period."),
        };
    }

    public static TimeZoneInfo FindZone(string id, string setting = "Steward:Budgets:TimeZone")
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (TimeZoneNotFoundException ex)
        {
            throw new ArgumentException($"{setting} '{id}' is not a known time zone (use an IANA id such as Europe/Paris, or UTC).", ex);
        }
    }
}
