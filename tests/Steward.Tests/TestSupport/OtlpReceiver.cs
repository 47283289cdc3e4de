using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Steward.Tests.TestSupport;

/// <summary>A span as decoded from OTLP protobuf.</summary>
public sealed record ReceivedSpan(
    string TraceId, string SpanId, string? ParentSpanId, string Name, string Scope, int Kind, ulong StartNanos, ulong EndNanos,
    IReadOnlyDictionary<string, object?> Attributes, IReadOnlyList<string> Events, int StatusCode, uint Flags);

/// <summary>
/// An OTLP/HTTP receiver on a loopback port: accepts <c>POST /v1/traces</c> (and metrics and logs) as
/// <c>application/x-protobuf</c>, decodes <c>ExportTraceServiceRequest</c> by hand with <see cref="CodedInputStream"/>
/// (field numbers from opentelemetry-proto), and keeps every raw body so tests can search them for secrets.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    public ConcurrentQueue<(string Path, byte[] Body)> Bodies { get; } = new();

    public string BaseUrl { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/{signal}", receiver.ReceiveAsync);
        await app.StartAsync().ConfigureAwait(false);
        receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return receiver;
    }

    private async Task ReceiveAsync(HttpContext context, string signal)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        var body = buffer.ToArray();
        Bodies.Enqueue((context.Request.Path, body));
        if (signal == "traces")
        {
            foreach (var span in DecodeTraces(body))
            {
                Spans.Enqueue(span);
            }
        }

        // An empty Export*ServiceResponse.
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-protobuf";
    }

    /// <summary>Waits until the trace's spans received so far satisfy <paramref name="complete"/>, or the timeout passes.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForTraceAsync(string traceId, Func<IReadOnlyList<ReceivedSpan>, bool> complete, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var spans = Spans.Where(s => s.TraceId == traceId).ToList();
            if (complete(spans) || DateTime.UtcNow > deadline)
            {
                return spans;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    internal static List<ReceivedSpan> DecodeTraces(byte[] body)
    {
        var spans = new List<ReceivedSpan>();
        foreach (var resourceSpans in Messages(body, 1))
        {
            // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
                var scope = Messages(scopeSpans, 1).Select(s => Strings(s, 1).FirstOrDefault()).FirstOrDefault() ?? "";
                spans.AddRange(Messages(scopeSpans, 2).Select(s => DecodeSpan(s, scope)));
            }
        }

        return spans;
    }

    private static ReceivedSpan DecodeSpan(byte[] span, string scope)
    {
        string traceId = "", spanId = "", name = "";
        string? parent = null;
        int kind = 0, status = 0;
        ulong start = 0, end = 0;
        uint flags = 0;
        var attributes = new Dictionary<string, object?>();
        var events = new List<string>();
        var input = new CodedInputStream(span);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: traceId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 2: spanId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 4:
                    var p = input.ReadBytes().ToByteArray();
                    parent = p.Length == 0 ? null : Convert.ToHexStringLower(p);
                    break;
                case 5: name = input.ReadString(); break;
                case 6: kind = input.ReadEnum(); break;
                case 7: start = input.ReadFixed64(); break;
                case 8: end = input.ReadFixed64(); break;
                case 9:
                    var (key, value) = DecodeKeyValue(input.ReadBytes().ToByteArray());
                    attributes[key] = value;
                    break;
                case 11: events.AddRange(Strings(input.ReadBytes().ToByteArray(), 2)); break;
                case 15:
                    // Status { string message = 2; StatusCode code = 3; }
                    var s = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint t;
                    while ((t = s.ReadTag()) != 0)
                    {
                        if (WireFormat.GetTagFieldNumber(t) == 3)
                        {
                            status = s.ReadEnum();
                        }
                        else
                        {
                            s.SkipLastField();
                        }
                    }

                    break;
                case 16: flags = input.ReadFixed32(); break;
                default: input.SkipLastField(); break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parent, name, scope, kind, start, end, attributes, events, status, flags);
    }

    // KeyValue { string key = 1; AnyValue value = 2; }
    private static (string Key, object? Value) DecodeKeyValue(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        string key = "";
        object? value = null;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: key = input.ReadString(); break;
                case 2: value = DecodeAnyValue(input.ReadBytes().ToByteArray()); break;
                default: input.SkipLastField(); break;
            }
        }

        return (key, value);
    }

    // AnyValue { oneof: string 1, bool 2, int64 3, double 4, ArrayValue 5 { repeated AnyValue values = 1; } }
    private static object? DecodeAnyValue(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        uint tag;
        object? value = null;
        while ((tag = input.ReadTag()) != 0)
        {
            value = WireFormat.GetTagFieldNumber(tag) switch
            {
                1 => input.ReadString(),
                2 => input.ReadBool(),
                3 => input.ReadInt64(),
                4 => input.ReadDouble(),
                5 => Messages(input.ReadBytes().ToByteArray(), 1).Select(DecodeAnyValue).ToArray(),
                _ => Skip(input),
            };
        }

        return value;

        static object? Skip(CodedInputStream input)
        {
            input.SkipLastField();
            return null;
        }
    }

    private static List<byte[]> Messages(byte[] bytes, int field)
    {
        var list = new List<byte[]>();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                list.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return list;
    }

    private static IEnumerable<string> Strings(byte[] bytes, int field) =>
        Messages(bytes, field).Select(b => System.Text.Encoding.UTF8.GetString(b));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
