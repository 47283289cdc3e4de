using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;
using Microsoft.Extensions.Options;
using Steward.Web.Traces;

namespace Steward.Web.Hosting;

/// <summary>The web host's registrations and endpoints, so <c>Program.cs</c> stays a handful of lines.</summary>
internal static class StewardWebExtensions
{
    public static WebApplicationBuilder AddStewardWeb(this WebApplicationBuilder builder)
    {
        builder.Configuration.AddStewardEnvironmentShortcuts();
        builder.Services.AddStewardEngine(builder.Configuration);
        builder.Services.AddHostedService<StewardStartup>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        return builder;
    }

    public static WebApplication MapStewardWeb(this WebApplication app)
    {
        app.MapHealthChecks("/healthz");
        app.MapTraceEndpoints();
        app.MapGet("/", (PresetCatalog presets, ProviderCatalog providers, ProviderReadiness readiness, IOptions<StorageOptions> storage) =>
            TypedResults.Content(RenderHome(presets, providers, readiness.DescribeProblem(), storage.Value), "text/html; charset=utf-8"));
        return app;
    }

    /// <summary>
    /// Runs the app after checking what would otherwise fail deep inside start-up (presets, provider settings), so a
    /// configuration mistake is one clear line and exit code 1, not a stack trace.
    /// </summary>
    public static async Task<int> RunStewardAsync(this WebApplication app)
    {
        try
        {
            app.Services.GetRequiredService<PresetCatalog>().LoadAll();
            _ = app.Services.GetRequiredService<IOptions<ProvidersOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<Steward.Telemetry.TelemetryOptions>>().Value;
        }
        catch (Exception ex) when (ex is PresetLoadException or OptionsValidationException or ArgumentException)
        {
            var message = ex is OptionsValidationException o ? "invalid configuration: " + string.Join(" ", o.Failures) : ex.Message;
            await Console.Error.WriteLineAsync("Steward cannot start: " + message).ConfigureAwait(false);
            return 1;
        }

        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    // A plain status page until the Blazor UI lands: what is configured and how to use it.
    private static string RenderHome(PresetCatalog presets, ProviderCatalog providers, string? problem, StorageOptions storage)
    {
        var html = HtmlEncoder.Default;
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Steward</title>")
          .Append("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}")
          .Append("table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}code{background:#f3f3f3;padding:0 .2rem}</style>")
          .Append("</head><body><h1>Steward</h1><p>A production home for LLM agents.</p>");
        if (problem is not null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p role=\"alert\" style=\"background:#fff4e5;border:1px solid #f0b429;padding:.8rem\"><strong>Not ready to answer yet.</strong> {html.Encode(problem)}</p>");
        }

        sb.Append("<h2>Agents</h2><table><tr><th>Name</th><th>Display name</th><th>Provider</th><th>Description</th></tr>");
        foreach (var p in presets.List())
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td><code>{html.Encode(p.Name)}</code></td><td>{html.Encode(p.DisplayName)}</td><td>{html.Encode(p.Provider ?? providers.DefaultProviderName)}</td><td>{html.Encode(p.Description)}</td></tr>");
        }

        sb.Append("</table><h2>Providers</h2><table><tr><th>Name</th><th>Kind</th><th>Model</th></tr>");
        foreach (var (name, kind, model, _) in providers.List())
        {
            var isDefault = string.Equals(name, providers.DefaultProviderName, StringComparison.OrdinalIgnoreCase) ? " (default)" : "";
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{html.Encode(name + isDefault)}</td><td>{html.Encode(kind)}</td><td>{html.Encode(model ?? "(default)")}</td></tr>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"</table><h2>Data</h2><p>Database: <code>{html.Encode(storage.DescribeLocation())}</code></p>")
          .Append("<p>Ask from a terminal: <code>dotnet run --project src/Steward.Cli -- ask --agent general_assistant \"your question\"</code></p></body></html>");
        return sb.ToString();
    }
}
