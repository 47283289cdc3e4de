using System.Globalization;

namespace Steward.Budgets;

/// <summary>
/// Names the period an instant falls in, in the configured time zone: <c>2026-11-23T14</c> (hourly),
/// <c>2026-11-23</c> (daily), <c>2026-W48</c> (ISO week, Monday first), <c>2026-11</c> (monthly), <c>all</c> (none).
/// </summary>
internal static class BudgetPeriods
{
    /// <summary>The key of a budget without a period: one counter for all time.</summary>
    public const string AllTimeKey = "all";

    public static string Key(BudgetPeriod period, DateTimeOffset instant, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(instant, zone).DateTime;
        return period switch
        {
            BudgetPeriod.None => AllTimeKey,
            BudgetPeriod.Hourly => local.ToString("yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture),
            BudgetPeriod.Daily => local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            BudgetPeriod.Weekly => string.Create(CultureInfo.InvariantCulture, $"{ISOWeek.GetYear(local):0000}-W{ISOWeek.GetWeekOfYear(local):00}"),
            BudgetPeriod.Monthly => local.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            _ => throw new ArgumentOutOfRangeException(nameof(period), period, "Unknown budget period."),
        };
    }

    /// <summary>When the period after the one <paramref name="instant"/> falls in starts; <see langword="null"/> for no period.</summary>
    public static DateTimeOffset? NextStart(BudgetPeriod period, DateTimeOffset instant, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(instant, zone).DateTime;
        DateTime? next = period switch
        {
            BudgetPeriod.Hourly => local.Date.AddHours(local.Hour + 1),
            BudgetPeriod.Daily => local.Date.AddDays(1),
            BudgetPeriod.Weekly => local.Date.AddDays(((int)DayOfWeek.Monday - (int)local.DayOfWeek + 7) % 7 is var d && d == 0 ? 7 : d),
            BudgetPeriod.Monthly => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified).AddMonths(1),
            _ => null,
        };
        return next is { } start ? new DateTimeOffset(start, zone.GetUtcOffset(start)) : null;
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
