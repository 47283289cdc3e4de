using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Steward.Telemetry;

/// <summary>
/// Tracing, metrics and the embedded trace store. Bound from <c>Steward:Telemetry</c>; the standard
/// <c>OTEL_EXPORTER_OTLP_*</c>, <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> and
/// <c>OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT</c> variables work too.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>Exporter names accepted in <see cref="Exporters"/>.</summary>
    public static IReadOnlyList<string> ExporterNames { get; } = ["otlp", "azure-monitor", "console"];

    /// <summary>Turns spans, metrics and the trace store off altogether. Default on.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Where to send spans and metrics: any of <c>otlp</c>, <c>azure-monitor</c>, <c>console</c>. Default none;
    /// <c>otlp</c> is added when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, <c>azure-monitor</c> when
    /// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is.
    /// </summary>
    public IList<string> Exporters { get; } = [];

    /// <summary>The OTLP exporter.</summary>
    public OtlpSettings Otlp { get; set; } = new();

    /// <summary>The Azure Monitor exporter.</summary>
    public AzureMonitorSettings AzureMonitor { get; set; } = new();

    /// <summary>Share of new traces exported, 0 to 1. Default 1. Failed runs and budget refusals are always exported.</summary>
    public double SamplingRatio { get; set; } = 1.0;

    /// <summary>Follow the caller's sampling decision when a trace comes in with a parent. Default true.</summary>
    public bool ParentBased { get; set; } = true;

    /// <summary>Record prompts, answers and tool arguments in spans. Default false: they may hold personal data.</summary>
    public bool CaptureMessageContent { get; set; }

    /// <summary>The embedded trace store.</summary>
    public TraceStoreSettings Store { get; set; } = new();

    /// <summary>Whether any exporter is on.</summary>
    internal bool Exports(string name) => Exporters.Any(e => string.Equals(e.Trim(), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Applies the standard environment variables the settings leave open.</summary>
    internal void ApplyStandardVariables(IConfiguration configuration)
    {
        if (!Exports("otlp") && !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            Exporters.Add("otlp");
        }

        if (string.IsNullOrWhiteSpace(AzureMonitor.ConnectionString))
        {
            AzureMonitor.ConnectionString = configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"];
            if (!string.IsNullOrWhiteSpace(AzureMonitor.ConnectionString) && !Exports("azure-monitor"))
            {
                Exporters.Add("azure-monitor");
            }
        }

        if (bool.TryParse(configuration["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"], out var capture) && capture)
        {
            CaptureMessageContent = true;
        }
    }
}

/// <summary>OTLP export. Blank settings fall back to the standard <c>OTEL_EXPORTER_OTLP_*</c> variables.</summary>
public sealed class OtlpSettings
{
    /// <summary>The collector's base address, e.g. <c>http://localhost:4317</c> (gRPC) or <c>http://localhost:4318</c> (HTTP).</summary>
    public Uri? Endpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>. Blank: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, else gRPC.</summary>
    public string? Protocol { get; set; }

    /// <summary>Extra headers, <c>key=value</c> pairs separated by commas (e.g. an API key). Never logged.</summary>
    public string? Headers { get; set; }

    internal bool IsHttp => string.Equals(Protocol?.Trim(), "http/protobuf", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Azure Monitor / Application Insights export.</summary>
public sealed class AzureMonitorSettings
{
    /// <summary>The Application Insights connection string; blank takes <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>.</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>The embedded trace store: spans written to Steward's database so the UI needs no external backend.</summary>
public sealed class TraceStoreSettings
{
    /// <summary>Write spans to the database. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Spans waiting to be written before new ones are dropped (and counted). Default 20,000.</summary>
    public int QueueCapacity { get; set; } = 20_000;

    /// <summary>Spans per database transaction. Default 500.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How long the writer gathers spans before a write (unless a batch is full). Default 1 second.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Spans older than this are deleted. Default 7 days.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>At most this many spans are kept; the oldest traces go first, each whole. Default 200,000.</summary>
    public int MaxSpans { get; set; } = 200_000;

    /// <summary>How often retention runs. Default 1 minute.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Checks every telemetry setting at start and reports all problems together.</summary>
internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var problems = new List<string>();
        foreach (var exporter in options.Exporters.Where(e => !TelemetryOptions.ExporterNames.Contains(e.Trim(), StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add($"Steward:Telemetry:Exporters has '{exporter}'; use any of {string.Join(", ", TelemetryOptions.ExporterNames)}.");
        }

        if (options.SamplingRatio is < 0 or > 1 || double.IsNaN(options.SamplingRatio))
        {
            problems.Add("Steward:Telemetry:SamplingRatio must be between 0 and 1 (1 exports every trace).");
        }

        if (options.Otlp.Protocol is { Length: > 0 } protocol && protocol.Trim() is not ("grpc" or "http/protobuf"))
        {
            problems.Add($"Steward:Telemetry:Otlp:Protocol is '{protocol}'; use 'grpc' or 'http/protobuf'.");
        }

        if (options.Otlp.Endpoint is { } endpoint && (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https")))
        {
            problems.Add("Steward:Telemetry:Otlp:Endpoint must be an absolute http or https address, e.g. http://localhost:4317.");
        }

        if (options.Otlp.Headers is { Length: > 0 } headers && headers.Split(',').Any(h => !h.Contains('=', StringComparison.Ordinal)))
        {
            // The value is not echoed: headers usually carry keys.
            problems.Add("Steward:Telemetry:Otlp:Headers must be key=value pairs separated by commas.");
        }

        if (options.Exports("azure-monitor")
            && (string.IsNullOrWhiteSpace(options.AzureMonitor.ConnectionString)
                || !options.AzureMonitor.ConnectionString.Contains("InstrumentationKey=", StringComparison.OrdinalIgnoreCase)))
        {
            problems.Add("The azure-monitor exporter needs an Application Insights connection string (InstrumentationKey=…) in Steward:Telemetry:AzureMonitor:ConnectionString or APPLICATIONINSIGHTS_CONNECTION_STRING.");
        }

        var store = options.Store;
        if (store.QueueCapacity < 1)
        {
            problems.Add("Steward:Telemetry:Store:QueueCapacity must be at least 1.");
        }

        if (store.BatchSize < 1)
        {
            problems.Add("Steward:Telemetry:Store:BatchSize must be at least 1.");
        }

        if (store.FlushInterval < TimeSpan.Zero || store.FlushInterval > TimeSpan.FromMinutes(1))
        {
            problems.Add("Steward:Telemetry:Store:FlushInterval must be between 0 and 1 minute, e.g. 00:00:01.");
        }

        if (store.MaxAge <= TimeSpan.Zero)
        {
            problems.Add("Steward:Telemetry:Store:MaxAge must be positive, e.g. 7.00:00:00 for a week.");
        }

        if (store.MaxSpans < 1)
        {
            problems.Add("Steward:Telemetry:Store:MaxSpans must be at least 1.");
        }

        if (store.RetentionInterval <= TimeSpan.Zero)
        {
            problems.Add("Steward:Telemetry:Store:RetentionInterval must be positive.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
