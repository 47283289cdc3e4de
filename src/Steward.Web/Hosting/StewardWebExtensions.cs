using Microsoft.Extensions.Options;
using MudBlazor.Services;
using Steward.Agents;
using Steward.Providers;
using Steward.Storage;
using Steward.Web.Analytics;
using Steward.Web.Api;
using Steward.Web.Components;
using Steward.Web.FirstRun;
using Steward.Web.Gateway;
using Steward.Web.History;
using Steward.Web.Rendering;

namespace Steward.Web.Hosting;

/// <summary>The web host's registrations and endpoints, so <c>Program.cs</c> stays a handful of lines.</summary>
internal static class StewardWebExtensions
{
    /// <summary>Where the app listens unless told otherwise: loopback only.</summary>
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplicationBuilder AddStewardWeb(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]) && string.IsNullOrEmpty(configuration["https_ports"])
            && !configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            // The default address is set here, not as "Urls" in appsettings.json, where it would win over ASPNETCORE_URLS.
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Configuration.AddStewardEnvironmentShortcuts();
        builder.Services.AddStewardEngine(builder.Configuration);
        builder.Services.AddStewardDataProtection();
        builder.Services.AddHostedService<StewardStartup>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        builder.Services.AddStewardUi();
        // How long a closed tab's circuit is kept for a reconnect, and how many are kept (Blazor's defaults: 3 minutes, 100).
        builder.Services.Configure<Microsoft.AspNetCore.Components.Server.CircuitOptions>(builder.Configuration.GetSection("Steward:Web:Circuits"));
        builder.Services.AddStewardHostFiltering(builder.Configuration);
        builder.Services.AddSingleton<BindAddressCheck>();
        builder.Services.AddStewardPolicies();
        builder.Services.AddStewardGateway(builder.Configuration);
        builder.Services.AddStewardApi(builder.Configuration);
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
        services.AddSingleton<Steward.Web.Keys.KeyUsageQueries>();
        return services;
    }

    public static WebApplication MapStewardWeb(this WebApplication app)
    {
        app.UseStewardSecurityHeaders();
        BindAddressCheck.UseBindAddressCheck(app);
        app.UseStewardOriginCheck();
        // The gateway's key first: the rate limiter partitions by it.
        app.UseStewardGatewayKeys();
        app.UseRateLimiter();
        if (!app.Environment.IsDevelopment())
        {
            // A failure outside an interactive page lands on the friendly error page, never a stack trace.
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseStatusCodePagesWithReExecute("/not-found");
        app.UseStewardApiProblems();
        app.UseAntiforgery();
        app.MapHealthChecks("/healthz");
        app.MapStewardApi();
        app.MapStewardGateway();
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
            _ = app.Services.GetRequiredService<IOptions<Steward.Budgets.BudgetOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<Steward.Tools.WebSearchOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<Steward.Tools.ToolOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<ApiOptions>>().Value;
            // The database before the host starts: a path Steward cannot use is one line here, not a host crash.
            await app.Services.GetRequiredService<DatabaseInitializer>().InitializeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PresetLoadException or OptionsValidationException or ArgumentException or StorageException)
        {
            var message = ex is OptionsValidationException o ? "invalid configuration: " + string.Join(" ", o.Failures) : ex.Message;
            await Console.Error.WriteLineAsync("Steward cannot start: " + message).ConfigureAwait(false);
            return 1;
        }

        await app.StartAsync().ConfigureAwait(false);
        if (await app.Services.GetRequiredService<BindAddressCheck>().CheckAsync(app.Services).ConfigureAwait(false) is { } exposed)
        {
            await Console.Error.WriteLineAsync("Steward cannot start: " + exposed).ConfigureAwait(false);
            await app.StopAsync().ConfigureAwait(false);
            return 1;
        }

        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }
}
