using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;
using Steward.Web.Hosting;

namespace Steward.Web.Api;

/// <summary>
/// Steward's own HTTP API under <c>/api</c>: runs (start, follow over SSE, result, list, cancel, export, trace, feedback),
/// sessions, analytics, budgets and keys; its OpenAPI document at <c>/api/openapi/v1.json</c> and a Scalar reference at
/// <c>/api/docs</c>. Every error is <c>application/problem+json</c>.
/// </summary>
/// <remarks>
/// Antiforgery: no API endpoint binds a form, so ASP.NET Core's antiforgery middleware (which checks form posts) never
/// applies to them and none is switched off. The API's callers are scripts and other services, which hold no antiforgery
/// token; what keeps other sites' pages from driving it is <see cref="RequestOriginChecks"/>, which refuses any
/// state-changing request a browser sends from another origin, and JSON bodies, which a cross-site form cannot send.
/// </remarks>
internal static class ApiEndpoints
{
    public const string DocumentName = "v1";
    public const string OpenApiPath = "/api/openapi/{documentName}.json";
    public const string DocsPath = "/api/docs";

    public static IServiceCollection AddStewardApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiOptions>().Bind(configuration.GetSection("Steward:Api")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        services.AddSingleton<ApiRuns>();
        services.AddSingleton<RunEventRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<RunEventRelay>());
        services.AddSingleton<StoredRuns>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        services.AddOpenApi(DocumentName, openApi =>
        {
            // The API and the gateway; the UI's pages and assets are not an API.
            openApi.ShouldInclude = description => description.RelativePath is { } path
                && (path.StartsWith("api/", StringComparison.Ordinal) || path.StartsWith("v1/", StringComparison.Ordinal));
            openApi.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Steward API";
                document.Info.Description = "Steward's own API (/api: runs, sessions, analytics, budgets, keys) and its OpenAI-compatible gateway (/v1).";
                return Task.CompletedTask;
            });
        });
        return services;
    }

    public static WebApplication MapStewardApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter<ApiProblemFilter>().WithGroupName(DocumentName);
        api.MapRunsEndpoints().MapTraceEndpoints().MapFeedbackEndpoints();
        api.MapSessionsEndpoints();
        api.MapAnalyticsEndpoints();
        api.MapBudgetsEndpoints();
        api.MapKeysEndpoints();
        app.MapOpenApi(OpenApiPath).RequireAuthorization(StewardPolicies.Viewer);
        app.MapScalarApiReference(DocsPath, (options, context) => options
                .WithTitle("Steward API")
                .WithOpenApiRoutePattern(OpenApiPath)
                // The page's scripts run under the app's Content-Security-Policy, with this request's nonce.
                .WithNonce(SecurityHeaders.Nonce(context))
                .AddHeadContent("<script src=\"/scalar-csp.js\"></script>")
                // Scalar's fonts come from its CDN; the machine may be offline, and the policy allows only the app's own.
                .DisableDefaultFonts())
            .RequireAuthorization(StewardPolicies.Viewer);
        return app;
    }

    /// <summary>
    /// Under <c>/api</c>, an error the framework answers with an empty body (a method the route does not take, a refused
    /// sign-in) is a ProblemDetails too, never the UI's error page.
    /// </summary>
    public static IApplicationBuilder UseStewardApiProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IStatusCodePagesFeature>() is { } pages)
        {
            pages.Enabled = false;
        }

        await next(context).ConfigureAwait(false);
        var response = context.Response;
        if (response.StatusCode >= 400 && !response.HasStarted && response.ContentLength is null or 0 && string.IsNullOrEmpty(response.ContentType))
        {
            var request = $"{context.Request.Method} {context.Request.Path}";
            var detail = response.StatusCode switch
            {
                StatusCodes.Status404NotFound => $"No API route {request}. The routes are listed at {DocsPath} and in /api/openapi/{DocumentName}.json.",
                StatusCodes.Status405MethodNotAllowed => $"{request}: the route does not take {context.Request.Method}. The routes and their methods are listed at {DocsPath}.",
                StatusCodes.Status415UnsupportedMediaType => $"{request}: the request body must be JSON (Content-Type: application/json), not '{context.Request.ContentType ?? "none"}'.",
                _ => $"{request} was refused with {response.StatusCode}.",
            };
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = { Status = response.StatusCode, Detail = detail },
            }).ConfigureAwait(false);
        }
    });
}
