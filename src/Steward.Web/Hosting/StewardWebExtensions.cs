using Microsoft.Extensions.Options;
using MudBlazor.Services;
using Steward.Agents;
using Steward.Providers;
using Steward.Web.Analytics;
using Steward.Web.Components;
using Steward.Web.FirstRun;
using Steward.Web.History;
using Steward.Web.Rendering;
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
        builder.Services.AddStewardUi();
        return builder;
    }

    /// <summary>The Blazor UI and the services its pages read from.</summary>
    public static IServiceCollection AddStewardUi(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddSingleton<MarkdownRenderer>();
        services.AddStewardQueries();
        services.AddHttpClient(ModelPull.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<ModelPull>();
        return services;
    }

    /// <summary>The read models the pages query (History, Analytics, budget gauges); the bench uses them too.</summary>
    public static IServiceCollection AddStewardQueries(this IServiceCollection services)
    {
        services.AddSingleton<SessionSearch>();
        services.AddSingleton<AnalyticsQueries>();
        services.AddSingleton<BudgetMonitor>();
        return services;
    }

    public static WebApplication MapStewardWeb(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            // A failure outside an interactive page lands on the friendly error page, never a stack trace.
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseStatusCodePagesWithReExecute("/not-found");
        app.UseAntiforgery();
        app.MapHealthChecks("/healthz");
        app.MapSessionExportEndpoints();
        app.MapTraceEndpoints();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
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
            _ = app.Services.GetRequiredService<IOptions<Steward.Tools.WebSearchOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<Steward.Tools.ToolOptions>>().Value;
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
}
