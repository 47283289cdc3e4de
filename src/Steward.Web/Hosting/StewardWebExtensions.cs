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
using Steward.Web.SignIn;

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

        SocketThreads.UseInlineScheduling(builder);
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
        builder.Services.AddStewardSignIn(builder.Configuration);
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
        services.AddSingleton<Steward.Web.Keys.KeyUsageQueries>();
        return services;
    }

    public static WebApplication MapStewardWeb(this WebApplication app)
    {
        SocketThreads.UseThreadPoolOutsideGateway(app);
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
        // Before sign-in, so an /api 401 or 403 without a body still answers as ProblemDetails.
        app.UseStewardApiProblems();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapHealthChecks("/healthz");
        app.MapStewardAccount();
        app.MapStewardApi();
        app.MapStewardGateway();
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    /// <summary>
    /// Checks what would otherwise fail deep inside start-up (presets, provider settings, the database), so a
    /// configuration mistake is one clear line and exit code 1, not a stack trace. Call it before
    /// <see cref="MapStewardWeb"/>: building the pipeline already reaches the database (antiforgery's keys live there).
    /// </summary>
    /// <returns>The exit code to end with, or <see langword="null"/> when Steward can start.</returns>
    public static async Task<int?> CheckStewardStartAsync(this WebApplication app)
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
            _ = app.Services.GetRequiredService<IOptions<SignInOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<ApiOptions>>().Value;
            // The database before the host starts: a path Steward cannot use is one line here, not a host crash.
            await app.Services.GetRequiredService<StewardDatabase>().InitializeAsync(CancellationToken.None).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is PresetLoadException or OptionsValidationException or ArgumentException or StorageException)
        {
            var message = ex is OptionsValidationException o ? "invalid configuration: " + string.Join(" ", o.Failures) : ex.Message;
            await Console.Error.WriteLineAsync("Steward cannot start: " + message).ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Runs the app checked by <see cref="CheckStewardStartAsync"/>; refuses an exposed address without sign-in.</summary>
    public static async Task<int> RunStewardAsync(this WebApplication app)
    {
        await app.StartAsync().ConfigureAwait(false);
        if (await app.Services.GetRequiredService<BindAddressCheck>().CheckAsync(app.Services).ConfigureAwait(false) is { } exposed)
        {
            await Console.Error.WriteLineAsync("Steward cannot start: " + exposed).ConfigureAwait(false);
            await app.StopAsync().ConfigureAwait(false);
            return 1;
        }

        await AnnounceFirstRunAsync(app).ConfigureAwait(false);

        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// With local accounts on and no user yet, says on the console where to create the first admin. The setup token is
    /// written to the console only (never to the logs, which may be shipped elsewhere), and only when Steward made it.
    /// </summary>
    private static async Task AnnounceFirstRunAsync(WebApplication app)
    {
        if (!await FirstRunGate.IsOpenAsync(app.Services, CancellationToken.None).ConfigureAwait(false))
        {
            return;
        }

        var gate = app.Services.GetRequiredService<FirstRunGate>();
        var url = app.Urls.FirstOrDefault()?.TrimEnd('/') ?? DefaultUrl;
        var line = gate.TokenIsGenerated
            ? $"Steward has no user yet. Create the first admin at {url}/setup?token={gate.Token} (a one-time setup token)."
            : gate.LoopbackOnly
                ? $"Steward has no user yet. Create the first admin at {url}/setup from this machine, or with 'steward users add NAME --role admin'."
                : $"Steward has no user yet. Create the first admin at {url}/setup with the configured setup token (Steward:Auth:SetupToken).";
        await Console.Out.WriteLineAsync(line).ConfigureAwait(false);
    }
}
