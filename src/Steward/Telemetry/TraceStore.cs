using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>The run's trace is not in the store (tracing was off, retention removed it, or the id is wrong).</summary>
public sealed class TraceNotFoundException(string message) : Exception(message)
{
    public TraceNotFoundException() : this("No trace found.") { }

    public TraceNotFoundException(string message, Exception innerException) : this(message) => _ = innerException;
}

/// <summary>Reads the embedded trace store: one run's span tree for a waterfall, and OTLP-JSON export. Thread-safe.</summary>
internal sealed class TraceStore(IDbContextFactory<StewardDbContext> contexts, IDbContextFactory<TraceDbContext> traces, TraceStoreWriter writer)
{
    private const int ExportPage = 2_000;

    /// <summary>Waits until spans already finished are written, so a read right after a run sees them.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);

    /// <summary>The run's spans as a tree, each with its depth and offset from the run's start, for a waterfall.</summary>
    /// <exception cref="TraceNotFoundException">The run is unknown or has no stored spans.</exception>
    public async Task<RunTrace> GetRunTraceAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var traceId = await db.Runs.AsNoTracking().Where(r => r.Id == runId).Select(r => r.TraceId).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new TraceNotFoundException($"Run {runId} has no trace: it does not exist, or it ran with tracing off. 'steward sessions show SESSION_ID' lists run ids.");
        await using var spansDb = await traces.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await spansDb.TraceSpans.AsNoTracking().Where(s => s.TraceId == traceId).OrderBy(s => s.StartTime).ThenBy(s => s.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        if (records.Count == 0)
        {
            throw new TraceNotFoundException($"No spans are stored for run {runId} (trace {traceId}); retention may have removed them (Steward:Telemetry:Store:MaxAge, MaxSpans).");
        }

        var spans = records.Select(StoredSpans.FromRecord).ToList();
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        var children = spans.Where(s => s.ParentSpanId is { } p && ids.Contains(p)).ToLookup(s => s.ParentSpanId!, StringComparer.Ordinal);
        var roots = spans.Where(s => s.ParentSpanId is not { } p || !ids.Contains(p)).ToList();
        var start = spans.Min(s => s.Start);
        var end = spans.Max(s => s.Start + s.Duration);
        var ordered = new List<WaterfallSpan>(spans.Count);
        foreach (var root in roots)
        {
            Visit(root, 0);
        }

        return new RunTrace(runId, traceId, start, end - start, ordered);

        void Visit(TraceSpan span, int depth)
        {
            ordered.Add(new WaterfallSpan(span, depth, span.Start - start));
            foreach (var child in children[span.SpanId])
            {
                Visit(child, depth + 1);
            }
        }
    }

    /// <summary>
    /// Writes spans as OTLP-JSON (one <c>ExportTraceServiceRequest</c>, as the OTLP/HTTP JSON encoding defines it):
    /// one run's when <paramref name="runId"/> is given, else every stored span. Returns how many were written.
    /// </summary>
    /// <exception cref="TraceNotFoundException">The run has no stored trace.</exception>
    public async Task<int> ExportOtlpJsonAsync(Stream output, Guid? runId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        string? traceId = null;
        if (runId is { } id)
        {
            traceId = (await GetRunTraceAsync(id, cancellationToken).ConfigureAwait(false)).TraceId;
        }

        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteStartArray("resourceSpans");
        json.WriteStartObject();
        json.WriteStartObject("resource");
        json.WriteStartArray("attributes");
        WriteAttribute(json, new SpanTag("service.name", "steward"));
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartArray("scopeSpans");

        var count = 0;
        long after = 0;
        string? scope = null;
        while (true)
        {
            await using var db = await traces.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var query = db.TraceSpans.AsNoTracking().Where(s => s.Id > after);
            if (traceId is not null)
            {
                query = query.Where(s => s.TraceId == traceId);
            }

            // Grouped by source so each scope's spans sit together; ids keep paging stable.
            var page = await query.OrderBy(s => s.Id).Take(ExportPage).ToListAsync(cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            after = page[^1].Id;
            foreach (var record in page.OrderBy(r => r.Source, StringComparer.Ordinal).ThenBy(r => r.Id))
            {
                if (record.Source != scope)
                {
                    if (scope is not null)
                    {
                        json.WriteEndArray();
                        json.WriteEndObject();
                    }

                    scope = record.Source;
                    json.WriteStartObject();
                    json.WriteStartObject("scope");
                    json.WriteString("name", scope);
                    json.WriteEndObject();
                    json.WriteStartArray("spans");
                }

                WriteSpan(json, StoredSpans.FromRecord(record));
                count++;
            }

            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        if (scope is not null)
        {
            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    private static void WriteSpan(Utf8JsonWriter json, TraceSpan span)
    {
        json.WriteStartObject();
        json.WriteString("traceId", span.TraceId);
        json.WriteString("spanId", span.SpanId);
        if (span.ParentSpanId is { } parent)
        {
            json.WriteString("parentSpanId", parent);
        }

        json.WriteString("name", span.Name);
        json.WriteNumber("kind", (int)span.Kind);
        json.WriteString("startTimeUnixNano", UnixNanos(span.Start));
        json.WriteString("endTimeUnixNano", UnixNanos(span.Start + span.Duration));
        json.WriteStartArray("attributes");
        foreach (var attribute in span.Attributes)
        {
            WriteAttribute(json, attribute);
        }

        json.WriteEndArray();
        json.WriteStartArray("events");
        foreach (var e in span.Events)
        {
            json.WriteStartObject();
            json.WriteString("timeUnixNano", UnixNanos(e.Time));
            json.WriteString("name", e.Name);
            json.WriteStartArray("attributes");
            foreach (var attribute in e.Attributes)
            {
                WriteAttribute(json, attribute);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("status");
        if (span.StatusMessage is { Length: > 0 } message)
        {
            json.WriteString("message", message);
        }

        json.WriteNumber("code", (int)span.Status);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteAttribute(Utf8JsonWriter json, SpanTag attribute)
    {
        json.WriteStartObject();
        json.WriteString("key", attribute.Key);
        json.WritePropertyName("value");
        WriteValue(json, attribute.Value);
        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        json.WriteStartObject();
        switch (value)
        {
            case bool b: json.WriteBoolean("boolValue", b); break;
            // OTLP-JSON writes 64-bit integers as strings (the protobuf JSON mapping).
            case long l: json.WriteString("intValue", l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: json.WriteNumber("doubleValue", d); break;
            case string[] items:
                json.WriteStartObject("arrayValue");
                json.WriteStartArray("values");
                foreach (var item in items)
                {
                    WriteValue(json, item);
                }

                json.WriteEndArray();
                json.WriteEndObject();
                break;
            default: json.WriteString("stringValue", Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }

        json.WriteEndObject();
    }

    private static string UnixNanos(DateTimeOffset time) =>
        ((time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).ToString(CultureInfo.InvariantCulture);
}
