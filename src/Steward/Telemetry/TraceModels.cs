namespace Steward.Telemetry;

/// <summary>OTLP span kinds.</summary>
public enum SpanKind
{
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// <summary>OTLP span status codes.</summary>
public enum SpanStatus
{
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// <summary>One span attribute, with its value's own type (string, long, double, bool or string[]).</summary>
public sealed record SpanTag(string Key, object? Value);

/// <summary>A timestamped event on a span (Steward's pipeline stages are events on the run span).</summary>
public sealed record TraceSpanEvent(string Name, DateTimeOffset Time, IReadOnlyList<SpanTag> Attributes);

/// <summary>A stored span.</summary>
public sealed record TraceSpan(
    string TraceId, string SpanId, string? ParentSpanId, string Name, string Source, SpanKind Kind, DateTimeOffset Start, TimeSpan Duration,
    SpanStatus Status, string? StatusMessage, IReadOnlyList<SpanTag> Attributes, IReadOnlyList<TraceSpanEvent> Events)
{
    /// <summary>The value of an attribute, or <see langword="null"/>.</summary>
    public object? this[string key] => Attributes.FirstOrDefault(a => a.Key == key)?.Value;
}

/// <summary>One span of a run's waterfall: its depth in the tree and its offset from the run's start.</summary>
public sealed record WaterfallSpan(TraceSpan Span, int Depth, TimeSpan Offset);

/// <summary>A run's trace, in tree order (each parent before its children, siblings by start time), ready for a waterfall.</summary>
public sealed record RunTrace(Guid RunId, string TraceId, DateTimeOffset Start, TimeSpan Duration, IReadOnlyList<WaterfallSpan> Spans);
