namespace Steward.Storage;

/// <summary>
/// How a time filter splits over rollups kept per UTC hour (or day): the whole units in the middle come from the rollup,
/// the ragged ends (a filter that starts at 10:20) from the raw rows, so a report stays exact for any bounds.
/// </summary>
/// <param name="HasInner">Whether any whole unit lies within the filter (else every row comes from the edges).</param>
/// <param name="InnerFrom">The first whole unit's start (<see langword="null"/>: unbounded).</param>
/// <param name="InnerTo">The end of the last whole unit (<see langword="null"/>: unbounded).</param>
/// <param name="Edges">The ragged ends, read from the raw rows.</param>
internal sealed record RollupWindow(bool HasInner, DateTime? InnerFrom, DateTime? InnerTo, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Edges)
{
    /// <summary>Splits [<paramref name="from"/>, <paramref name="to"/>) at whole <paramref name="unit"/>s of UTC time.</summary>
    public static RollupWindow Split(DateTimeOffset? from, DateTimeOffset? to, TimeSpan unit)
    {
        var innerFrom = from is { } f ? Ceiling(f.UtcDateTime, unit) : (DateTime?)null;
        var innerTo = to is { } t ? Floor(t.UtcDateTime, unit) : (DateTime?)null;
        if (from is { } start && to is { } end && (innerFrom >= innerTo))
        {
            return new RollupWindow(false, null, null, start < end ? [(start, end)] : []);
        }

        var edges = new List<(DateTimeOffset, DateTimeOffset)>(2);
        if (from is { } a && a.UtcDateTime < innerFrom)
        {
            edges.Add((a, new DateTimeOffset(innerFrom.Value)));
        }

        if (to is { } b && innerTo < b.UtcDateTime)
        {
            edges.Add((new DateTimeOffset(innerTo.Value), b));
        }

        return new RollupWindow(true, innerFrom, innerTo, edges);
    }

    /// <summary>
    /// Splits whole UTC days [<paramref name="from"/>, <paramref name="to"/>) (<see langword="null"/>: unbounded) at whole UTC
    /// months: the months in the middle from a monthly rollup, the days at either end (<see cref="Edges"/>) from the daily one.
    /// </summary>
    public static RollupWindow SplitMonths(DateTime? from, DateTime? to)
    {
        static DateTime MonthOf(DateTime day) => new(day.Year, day.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var innerFrom = from is { } f ? (f.Day == 1 && f.TimeOfDay == TimeSpan.Zero ? MonthOf(f) : MonthOf(f).AddMonths(1)) : (DateTime?)null;
        var innerTo = to is { } t ? MonthOf(t) : (DateTime?)null;
        if (from is { } start && to is { } end && innerFrom >= innerTo)
        {
            return new RollupWindow(false, null, null, start < end ? [(Utc(start), Utc(end))] : []);
        }

        var edges = new List<(DateTimeOffset, DateTimeOffset)>(2);
        if (from is { } a && a < innerFrom)
        {
            edges.Add((Utc(a), Utc(innerFrom.Value)));
        }

        if (to is { } b && innerTo < b)
        {
            edges.Add((Utc(innerTo.Value), Utc(b)));
        }

        return new RollupWindow(true, innerFrom, innerTo, edges);
    }

    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));

    /// <summary>Whether <paramref name="zone"/>'s days are UTC days (no offset, never daylight-saving time).</summary>
    public static bool IsUtc(TimeZoneInfo zone) => zone.BaseUtcOffset == TimeSpan.Zero && !zone.SupportsDaylightSavingTime;

    /// <summary>
    /// Whether a day of <paramref name="zone"/> begins inside the UTC hour starting at <paramref name="hour"/>, so that its
    /// runs belong to two days and an hourly rollup cannot say which: one hour a day in a zone with a half- or quarter-hour
    /// offset (India's +05:30, Nepal's +05:45, Lord Howe's summer time), never in a whole-hour one (Paris, New York, Tokyo,
    /// whatever offsets they had in other centuries). Such hours are read from the rows themselves.
    /// </summary>
    public static bool SplitsDay(TimeZoneInfo zone, DateTime hour)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var start = DateTime.SpecifyKind(hour, DateTimeKind.Utc);
        return TimeZoneInfo.ConvertTimeFromUtc(start, zone).Date != TimeZoneInfo.ConvertTimeFromUtc(start.AddHours(1).AddTicks(-1), zone).Date;
    }

    private static DateTime Floor(DateTime utc, TimeSpan unit) => new(utc.Ticks - (utc.Ticks % unit.Ticks), DateTimeKind.Utc);

    private static DateTime Ceiling(DateTime utc, TimeSpan unit) => utc.Ticks % unit.Ticks == 0 ? utc : Floor(utc, unit).Add(unit);
}
