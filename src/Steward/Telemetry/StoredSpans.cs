using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.Storage;

namespace Steward.Telemetry;

/// <summary>
/// Turns finished <see cref="Activity"/> objects into stored rows and back. Attribute values keep their type
/// (string, integer, double, boolean, array) so an OTLP export is faithful: each is <c>{"k":key,"s"|"i"|"d"|"b"|"a":value}</c>.
/// </summary>
internal static class StoredSpans
{
    // One buffer and writer per thread, reset for every span: a MemoryStream and a Utf8JsonWriter made per span were a
    // third of the gateway's allocations. Spans are turned into rows on the trace store's one writer loop.
    [ThreadStatic]
    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Json)? t_json;

    public static TraceSpanRecord ToRecord(Activity activity)
    {
        var parent = activity.ParentSpanId;
        return new TraceSpanRecord
        {
            TraceId = activity.TraceId.ToHexString(),
            SpanId = activity.SpanId.ToHexString(),
            ParentSpanId = parent == default ? null : parent.ToHexString(),
            Name = Truncate(activity.DisplayName, 300),
            Source = activity.Source.Name,
            Kind = (int)activity.Kind + 1,
            StartTime = activity.StartTimeUtc,
            DurationTicks = activity.Duration.Ticks,
            StatusCode = activity.Status switch { ActivityStatusCode.Ok => 1, ActivityStatusCode.Error => 2, _ => 0 },
            StatusMessage = activity.StatusDescription,
            Attributes = WriteAttributes(activity.TagObjects),
            Events = WriteEvents(activity.Events),
        };
    }

    private const string EmptyArray = "[]";

    private static string Truncate(string value, int length) => value.Length <= length ? value : value[..length];

    private static Utf8JsonWriter StartJson()
    {
        if (t_json is not { } cached)
        {
            var buffer = new ArrayBufferWriter<byte>(1024);
            cached = (buffer, new Utf8JsonWriter(buffer));
            t_json = cached;
        }

        cached.Buffer.ResetWrittenCount();
        cached.Json.Reset(cached.Buffer);
        return cached.Json;
    }

    private static string EndJson(Utf8JsonWriter json)
    {
        json.Flush();
        var buffer = t_json!.Value.Buffer;
        // Most spans have no events, some no attributes: one shared "[]" for them, not a new string each.
        var text = buffer.WrittenSpan.SequenceEqual("[]"u8) ? EmptyArray : Encoding.UTF8.GetString(buffer.WrittenSpan);
        // A rare huge span must not keep its buffer for the thread's lifetime.
        if (buffer.Capacity > 64 * 1024)
        {
            t_json = null;
        }

        return text;
    }

    private static string WriteAttributes(IEnumerable<KeyValuePair<string, object?>> tags)
    {
        var json = StartJson();
        WriteAttributes(json, tags);
        return EndJson(json);
    }

    private static void WriteAttributes(Utf8JsonWriter json, IEnumerable<KeyValuePair<string, object?>> tags)
    {
        json.WriteStartArray();
        foreach (var (key, value) in tags)
        {
            if (value is null)
            {
                continue;
            }

            json.WriteStartObject();
            json.WriteString("k", key);
            switch (value)
            {
                case string s: json.WriteString("s", s); break;
                case bool b: json.WriteBoolean("b", b); break;
                case int or long or short or byte or sbyte or uint or ushort:
                    json.WriteNumber("i", Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
                case double or float or decimal:
                    json.WriteNumber("d", Convert.ToDouble(value, CultureInfo.InvariantCulture)); break;
                case System.Collections.IEnumerable items:
                    json.WriteStartArray("a");
                    foreach (var item in items)
                    {
                        json.WriteStringValue(Convert.ToString(item, CultureInfo.InvariantCulture));
                    }

                    json.WriteEndArray();
                    break;
                default: json.WriteString("s", Convert.ToString(value, CultureInfo.InvariantCulture)); break;
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static string WriteEvents(IEnumerable<ActivityEvent> events)
    {
        var json = StartJson();
        json.WriteStartArray();
        foreach (var e in events)
        {
            json.WriteStartObject();
            json.WriteString("name", e.Name);
            json.WriteString("time", e.Timestamp.UtcDateTime);
            json.WritePropertyName("attributes");
            WriteAttributes(json, e.Tags);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        return EndJson(json);
    }

    /// <summary>Reads stored attributes back as (key, value) with their types.</summary>
    public static IReadOnlyList<SpanTag> ReadAttributes(JsonElement array)
    {
        var list = new List<SpanTag>();
        foreach (var item in array.EnumerateArray())
        {
            var key = item.GetProperty("k").GetString() ?? "";
            object? value = null;
            foreach (var p in item.EnumerateObject())
            {
                value = p.Name switch
                {
                    "s" => p.Value.GetString(),
                    "b" => p.Value.GetBoolean(),
                    "i" => p.Value.GetInt64(),
                    "d" => p.Value.GetDouble(),
                    "a" => p.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToArray(),
                    _ => value,
                };
            }

            list.Add(new SpanTag(key, value));
        }

        return list;
    }

    public static TraceSpan FromRecord(TraceSpanRecord r)
    {
        using var attributes = JsonDocument.Parse(r.Attributes);
        using var events = JsonDocument.Parse(r.Events);
        var start = DateTime.SpecifyKind(r.StartTime, DateTimeKind.Utc);
        return new TraceSpan(
            r.TraceId, r.SpanId, r.ParentSpanId, r.Name, r.Source, (SpanKind)r.Kind, new DateTimeOffset(start), TimeSpan.FromTicks(r.DurationTicks),
            (SpanStatus)r.StatusCode, r.StatusMessage, ReadAttributes(attributes.RootElement),
            events.RootElement.EnumerateArray().Select(e => new TraceSpanEvent(
                e.GetProperty("name").GetString() ?? "", e.GetProperty("time").GetDateTimeOffset(), ReadAttributes(e.GetProperty("attributes")))).ToArray());
    }
}
