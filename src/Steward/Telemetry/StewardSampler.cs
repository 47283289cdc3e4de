using System.Diagnostics;
using OpenTelemetry.Trace;

namespace Steward.Telemetry;

/// <summary>
/// Head sampling that never loses a span: a trace outside the ratio is still recorded (not exported), so the
/// trace store sees every run and <see cref="UnsampledTraceHoldProcessor"/> can still export it when the run
/// fails or is refused by a budget. Children follow their local parent; with <c>ParentBased</c>, a remote parent's
/// decision is followed too. A new trace is sampled on the random last 7 bytes of its id: OpenTelemetry's
/// <c>TraceIdRatioBasedSampler</c> reads the first 8, which <see cref="TimeOrderedTraceIds"/> fills with the time, so it
/// would keep or drop every trace of a whole stretch of time.
/// </summary>
internal sealed class StewardSampler(double ratio, bool parentBased) : Sampler
{
    private static readonly SamplingResult Sampled = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult RecordedOnly = new(SamplingDecision.RecordOnly);

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var parent = samplingParameters.ParentContext;
        if (parent.TraceId != default && (!parent.IsRemote || parentBased))
        {
            return (parent.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? Sampled : RecordedOnly;
        }

        return TimeOrderedTraceIds.RandomFraction(samplingParameters.TraceId) < ratio ? Sampled : RecordedOnly;
    }
}
