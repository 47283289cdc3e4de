using Steward.Telemetry;

namespace Steward.Tests.Telemetry;

public sealed class SpanValueTextTests
{
    [Theory]
    [InlineData(0.7f, "0.7")]
    [InlineData(0.2f, "0.2")]
    [InlineData(1f, "1")]
    public void Format_DoubleThatWasAFloat_ReadsAsTheFloat(float temperature, string expected) =>
        Assert.Equal(expected, SpanValueText.Format((double)temperature));

    [Fact]
    public void Format_RealDouble_KeepsItsDigits() => Assert.Equal("0.0001234567", SpanValueText.Format(0.0001234567));

    [Fact]
    public void Format_ArraysAndNull_ReadAsText()
    {
        Assert.Equal("stop, length", SpanValueText.Format(new[] { "stop", "length" }));
        Assert.Equal("1, 2", SpanValueText.Format(new long[] { 1, 2 }));
        Assert.Equal("", SpanValueText.Format(null));
    }
}
