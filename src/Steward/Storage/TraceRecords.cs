namespace Steward.Storage;

/// <summary>One finished span in the embedded trace store.</summary>
internal sealed class TraceSpanRecord
{
    public long Id { get; set; }

    /// <summary>32 lowercase hex digits, as in <see cref="RunRecord.TraceId"/>.</summary>
    public string TraceId { get; set; } = "";

    /// <summary>16 lowercase hex digits.</summary>
    public string SpanId { get; set; } = "";

    /// <summary>The parent's span id, or <see langword="null"/> for a root.</summary>
    public string? ParentSpanId { get; set; }

    public string Name { get; set; } = "";

    /// <summary>The source that emitted it (<c>Steward</c>, <c>Experimental.Microsoft.Agents.AI</c>, …).</summary>
    public string Source { get; set; } = "";

    /// <summary>OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.</summary>
    public int Kind { get; set; }

    public DateTime StartTime { get; set; }

    /// <summary>Duration in ticks (100 ns): exact, and the end time follows.</summary>
    public long DurationTicks { get; set; }

    /// <summary>OTLP status code: 0 unset, 1 ok, 2 error.</summary>
    public int StatusCode { get; set; }

    public string? StatusMessage { get; set; }

    /// <summary>Attributes as a JSON array of typed values (see <c>SpanAttributes</c>).</summary>
    public string Attributes { get; set; } = "[]";

    /// <summary>Events as a JSON array of <c>{ name, time, attributes }</c>.</summary>
    public string Events { get; set; } = "[]";
}
