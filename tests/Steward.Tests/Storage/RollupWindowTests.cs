using Steward.Storage;

namespace Steward.Tests.Storage;

/// <summary>Which time zones' report days the hourly rollups can serve: those whose offsets are whole hours over the period asked.</summary>
public sealed class RollupWindowTests
{
    [Theory]
    [InlineData("UTC")]
    [InlineData("Europe/Paris")]
    [InlineData("America/New_York")]
    [InlineData("Asia/Tokyo")]
    public void HasWholeHourOffsets_ZoneOnWholeHoursSinceTheUnixEpoch_IsTrueThoughItBeganOnLocalMeanTime(string id)
    {
        var zone = Zone(id);

        Assert.True(RollupWindow.HasWholeHourOffsets(zone));
        Assert.True(RollupWindow.HasWholeHourOffsets(zone, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero)));
    }

    [Theory]
    [InlineData("Asia/Kolkata")]
    [InlineData("Asia/Kathmandu")]
    [InlineData("America/St_Johns")]
    [InlineData("Australia/Lord_Howe")]
    public void HasWholeHourOffsets_ZoneWithHalfOrQuarterHours_IsFalse(string id)
    {
        var zone = Zone(id);

        Assert.False(RollupWindow.HasWholeHourOffsets(zone));
        Assert.False(RollupWindow.HasWholeHourOffsets(zone, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), null));
    }

    [Fact]
    public void HasWholeHourOffsets_PeriodReachingBackToParisMeanTime_IsFalse()
    {
        var paris = Zone("Europe/Paris");

        Assert.False(RollupWindow.HasWholeHourOffsets(paris, new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(1950, 1, 1, 0, 0, 0, TimeSpan.Zero)));
    }

    private static TimeZoneInfo Zone(string id)
    {
        Assert.True(TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone), $"no time zone data for {id} on this machine");
        return zone;
    }
}
