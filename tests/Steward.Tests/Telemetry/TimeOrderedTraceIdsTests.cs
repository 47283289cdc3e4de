using System.Diagnostics;
using System.Globalization;
using OpenTelemetry.Trace;
using Steward.Telemetry;

namespace Steward.Tests.Telemetry;

public sealed class TimeOrderedTraceIdsTests
{
    [Fact]
    public void Create_IdsMadeLater_SortAfterEarlierOnes()
    {
        var start = new DateTimeOffset(2026, 12, 2, 19, 30, 0, TimeSpan.Zero);
        var ids = new[] { start, start.AddMilliseconds(1), start.AddSeconds(1), start.AddHours(1), start.AddYears(3) }
            .Select(t => TimeOrderedTraceIds.Create(t).ToHexString()).ToList();

        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(start.ToUnixTimeMilliseconds(), long.Parse(ids[0][..12], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Create_SameMillisecond_IdsStillDiffer()
    {
        var now = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 10_000).Select(_ => TimeOrderedTraceIds.Create(now).ToHexString()).ToHashSet();

        Assert.Equal(10_000, ids.Count);
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(0.5)]
    public void Sampler_NewTracesWithTimeOrderedIds_KeepTheConfiguredShare(double ratio)
    {
        // All made in the same millisecond: their first bytes are equal, so only the random end can spread them.
        var sampler = new StewardSampler(ratio, parentBased: false);
        var now = DateTimeOffset.UtcNow;
        const int Traces = 20_000;
        var sampled = Enumerable.Range(0, Traces).Count(_ =>
            sampler.ShouldSample(new SamplingParameters(default, TimeOrderedTraceIds.Create(now), "agent_run", ActivityKind.Internal)).Decision
                == SamplingDecision.RecordAndSample);

        Assert.InRange(sampled / (double)Traces, ratio - 0.02, ratio + 0.02);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(1.0, 1000)]
    public void Sampler_RatioAtItsEnds_KeepsNoneOrAll(double ratio, int expected)
    {
        var sampler = new StewardSampler(ratio, parentBased: false);
        var sampled = Enumerable.Range(0, 1000).Count(_ =>
            sampler.ShouldSample(new SamplingParameters(default, ActivityTraceId.CreateRandom(), "agent_run", ActivityKind.Internal)).Decision
                == SamplingDecision.RecordAndSample);

        Assert.Equal(expected, sampled);
    }
}
