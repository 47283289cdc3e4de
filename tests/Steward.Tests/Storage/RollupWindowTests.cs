using Steward.Storage;

namespace Steward.Tests.Storage;

/// <summary>Which UTC hours of a time zone hold the start of one of its days, and so cannot be served by an hourly rollup.</summary>
public sealed class RollupWindowTests
{
    [Theory]
    [InlineData("UTC")]
    [InlineData("Europe/Paris")]
    [InlineData("America/New_York")]
    [InlineData("Asia/Tokyo")]
    public void SplitsDay_WholeHourZoneThroughAYearWithItsClockChanges_NoHour(string id)
    {
        var zone = Zone(id);

        Assert.DoesNotContain(Hours(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), 366 * 24), h => RollupWindow.SplitsDay(zone, h));
    }

    [Fact]
    public void SplitsDay_ParisBeforeItsMeanTimeEnded_TheHourHoldingMidnight()
    {
        // Paris kept +00:09:21 until 1911: a day began at 23:50:39 UTC, inside the 23:00 hour.
        var paris = Zone("Europe/Paris");

        Assert.Equal([new DateTime(1900, 1, 1, 23, 0, 0, DateTimeKind.Utc)], Hours(new DateTime(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc), 24).Where(h => RollupWindow.SplitsDay(paris, h)));
    }

    [Theory]
    [InlineData("Asia/Kolkata", 18)]
    [InlineData("Asia/Kathmandu", 18)]
    [InlineData("America/St_Johns", 3)]
    public void SplitsDay_HalfOrQuarterHourZone_OneHourADayTheOneHoldingLocalMidnight(string id, int utcHour)
    {
        var zone = Zone(id);
        var january = Hours(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), 31 * 24).Where(h => RollupWindow.SplitsDay(zone, h)).ToList();

        Assert.Equal(31, january.Count);
        Assert.All(january, h => Assert.Equal(utcHour, h.Hour));
    }

    private static IEnumerable<DateTime> Hours(DateTime from, int count) => Enumerable.Range(0, count).Select(i => from.AddHours(i));

    private static TimeZoneInfo Zone(string id)
    {
        Assert.True(TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone), $"no time zone data for {id} on this machine");
        return zone;
    }
}
