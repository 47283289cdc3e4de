using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Steward.Sessions;

namespace Steward.Cli.Rendering;

/// <summary>
/// How <c>--json</c> output is written: a script reads durations as numbers, so every <see cref="TimeSpan"/> is written
/// as milliseconds under a name that says so (<c>duration</c> becomes <c>duration_ms</c>), not as .NET's "00:00:01.5".
/// </summary>
internal static class CliJson
{
    /// <summary>snake_case, enums by name, nulls written (what most commands print).</summary>
    public static JsonSerializerOptions Output { get; } = WithDurationsInMilliseconds(StoredSessions.ExportJsonOptions);

    /// <summary>snake_case, nulls left out (the reports: costs, traces, prices).</summary>
    public static JsonSerializerOptions Report { get; } = WithDurationsInMilliseconds(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });

    private static JsonSerializerOptions WithDurationsInMilliseconds(JsonSerializerOptions options) => new(options)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { DurationsInMilliseconds } },
    };

    private static void DurationsInMilliseconds(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in type.Properties)
        {
            if (property.PropertyType == typeof(TimeSpan) || property.PropertyType == typeof(TimeSpan?))
            {
                property.Name += "_ms";
                property.CustomConverter = property.PropertyType == typeof(TimeSpan) ? Milliseconds.Instance : NullableMilliseconds.Instance;
            }
        }
    }

    private sealed class Milliseconds : JsonConverter<TimeSpan>
    {
        public static readonly Milliseconds Instance = new();

        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => TimeSpan.FromMilliseconds(reader.GetDouble());

        // Microseconds are noise at the scale of a model call: three decimals keep the number short and exact enough.
        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) => writer.WriteNumberValue(Math.Round(value.TotalMilliseconds, 3));
    }

    private sealed class NullableMilliseconds : JsonConverter<TimeSpan?>
    {
        public static readonly NullableMilliseconds Instance = new();

        public override bool HandleNull => true;

        public override TimeSpan? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : TimeSpan.FromMilliseconds(reader.GetDouble());

        public override void Write(Utf8JsonWriter writer, TimeSpan? value, JsonSerializerOptions options)
        {
            if (value is { } v)
            {
                writer.WriteNumberValue(Math.Round(v.TotalMilliseconds, 3));
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }
}
