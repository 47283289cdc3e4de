using System.Diagnostics;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Steward.Telemetry;

/// <summary>Registers Steward's tracing, metrics, log correlation, exporters and the embedded trace store.</summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Adds OpenTelemetry tracing and metrics for Steward's and the AI libraries' sources, the exporters named in
    /// <c>Steward:Telemetry:Exporters</c> (or implied by the standard variables), sampling that always keeps failed and
    /// refused runs, and the embedded trace store. Logs carry trace and span ids. Settings are validated at start.
    /// </summary>
    public static IServiceCollection AddStewardTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(StewardServiceCollectionExtensions.SectionName).GetSection("Telemetry");
        services.AddOptions<TelemetryOptions>().Bind(section).PostConfigure(o => o.ApplyStandardVariables(configuration)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>();
        services.AddMetrics();
        services.AddSingleton<RunTelemetry>();
        services.AddSingleton<TraceStoreWriter>();
        services.AddSingleton<TraceStore>();
        services.AddSingleton(sp => new StoredTraces(sp.GetRequiredService<TraceStore>()));
        services.Configure<LoggerFactoryOptions>(o => o.ActivityTrackingOptions =
            ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);

        // What to wire is decided now, from the same settings the validator checks when the app starts.
        var options = new TelemetryOptions();
        section.Bind(options);
        options.ApplyStandardVariables(configuration);
        if (!options.Enabled || new TelemetryOptionsValidator().Validate(null, options).Failed)
        {
            return services;
        }

        var otel = services.AddOpenTelemetry().ConfigureResource(r => r.AddService("steward", serviceVersion: typeof(StewardTelemetry).Assembly.GetName().Version?.ToString()));
        otel.WithTracing(tracing =>
        {
            tracing.SetSampler(new StewardSampler(options.SamplingRatio, options.ParentBased)).AddSource([.. StewardTelemetry.SourceNames]);
            if (options.Store.Enabled)
            {
                tracing.AddProcessor(sp =>
                {
                    // When the provider is built, not at registration: registering services must not change the process.
                    TimeOrderedTraceIds.Install();
                    return new TraceStoreProcessor(sp.GetRequiredService<TraceStoreWriter>());
                });
            }

            var exporters = TraceExporters(options);
            if (exporters.Count > 0)
            {
                tracing.AddProcessor(_ => new UnsampledTraceHoldProcessor(new CompositeProcessor<Activity>(exporters.Select(e => e()))));
            }
        });
        otel.WithMetrics(metrics =>
        {
            metrics.AddMeter([.. StewardTelemetry.SourceNames]);
            if (options.Exports("otlp"))
            {
                metrics.AddOtlpExporter((exporter, _) => ConfigureOtlp(exporter, options.Otlp, "v1/metrics"));
            }

            if (options.Exports("console"))
            {
                metrics.AddConsoleExporter();
            }

            if (options.Exports("azure-monitor"))
            {
                metrics.AddAzureMonitorMetricExporter(o => o.ConnectionString = options.AzureMonitor.ConnectionString);
            }
        });
        if (options.Exporters.Count > 0)
        {
            // Exported logs carry the trace and span ids of the span that was current when they were written.
            otel.WithLogging(logging =>
            {
                if (options.Exports("otlp"))
                {
                    logging.AddOtlpExporter(exporter => ConfigureOtlp(exporter, options.Otlp, "v1/logs"));
                }

                if (options.Exports("console"))
                {
                    logging.AddConsoleExporter();
                }

                if (options.Exports("azure-monitor"))
                {
                    logging.AddAzureMonitorLogExporter(o => o.ConnectionString = options.AzureMonitor.ConnectionString);
                }
            }, logOptions =>
            {
                // Without it, exporters send the message template ("Created agent for preset {Preset}…") as the text;
                // the values are attributes either way.
                logOptions.IncludeFormattedMessage = true;
            });
        }

        return services;
    }

    private static List<Func<BaseProcessor<Activity>>> TraceExporters(TelemetryOptions options)
    {
        var exporters = new List<Func<BaseProcessor<Activity>>>();
        if (options.Exports("otlp"))
        {
            exporters.Add(() =>
            {
                // The default constructor reads the standard OTEL_EXPORTER_OTLP_* variables; Steward's settings override them.
                var exporter = new OtlpExporterOptions();
                ConfigureOtlp(exporter, options.Otlp, "v1/traces");
                return new BatchActivityExportProcessor(new OtlpTraceExporter(exporter));
            });
        }

        if (options.Exports("console"))
        {
            exporters.Add(() => new SimpleActivityExportProcessor(new ConsoleActivityExporter(new ConsoleExporterOptions())));
        }

        if (options.Exports("azure-monitor"))
        {
            exporters.Add(() => new BatchActivityExportProcessor(
                new AzureMonitorTraceExporter(new AzureMonitorExporterOptions { ConnectionString = options.AzureMonitor.ConnectionString })));
        }

        return exporters;
    }

    private static void ConfigureOtlp(OtlpExporterOptions exporter, OtlpSettings settings, string signalPath)
    {
        if (settings.Protocol is { Length: > 0 })
        {
            exporter.Protocol = settings.IsHttp ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        }

        if (settings.Endpoint is { } endpoint)
        {
            // Like OTEL_EXPORTER_OTLP_ENDPOINT, the setting is the collector's base address; HTTP needs the signal's path.
            exporter.Endpoint = exporter.Protocol == OtlpExportProtocol.HttpProtobuf
                ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath)
                : endpoint;
        }

        if (settings.Headers is { Length: > 0 } headers)
        {
            exporter.Headers = headers;
        }
    }
}
