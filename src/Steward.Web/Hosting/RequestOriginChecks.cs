using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Options;

namespace Steward.Web.Hosting;

/// <summary>
/// Host and origin rules that keep other sites out. Hosts: only loopback names and the configured ones are answered
/// (ASP.NET Core's host filtering, 400 otherwise). Origins: the live connection (<c>/_blazor</c>, its negotiate and
/// WebSocket) and every state-changing request are refused with 403 when a browser sends them from another origin;
/// a request without <c>Origin</c> is not a browser's cross-site request and passes.
/// </summary>
internal static class RequestOriginChecks
{
    public const string HubPath = "/_blazor";

    private static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "[::1]"];

    public static IServiceCollection AddStewardHostFiltering(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebSecurityOptions>().Bind(configuration.GetSection("Steward:Web"));
        // Configure runs before the framework's PostConfigure, which fills AllowedHosts with "*" only when it is empty.
        services.Configure<HostFilteringOptions>(options =>
        {
            var configured = Split(configuration["Steward:Web:AllowedHosts"]).Concat(Split(configuration["AllowedHosts"]));
            options.AllowedHosts = [.. LoopbackHosts.Concat(configured).Distinct(StringComparer.OrdinalIgnoreCase)];
            options.AllowEmptyHosts = false;
        });
        return services;
    }

    /// <summary>Refuses cross-origin requests to the live connection and state-changing endpoints.</summary>
    public static IApplicationBuilder UseStewardOriginCheck(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<WebSecurityOptions>>().Value;
        var allowed = new HashSet<string>(Split(options.AllowedOrigins).Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
        return app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (NeedsSameOrigin(request) && request.Headers.Origin is { Count: > 0 } origins)
            {
                var origin = origins.ToString();
                var own = $"{request.Scheme}://{request.Host.Value}";
                if (!string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) && !allowed.Contains(origin))
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    context.Response.ContentType = "text/plain; charset=utf-8";
                    await context.Response.WriteAsync(
                        $"Refused: a request from another site ({origin}). Pages of other origins may not drive Steward; list trusted ones in Steward:Web:AllowedOrigins.",
                        context.RequestAborted).ConfigureAwait(false);
                    return;
                }
            }

            await next(context).ConfigureAwait(false);
        });
    }

    private static bool NeedsSameOrigin(HttpRequest request) =>
        request.Path.StartsWithSegments(HubPath, StringComparison.OrdinalIgnoreCase)
        || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method));

    private static string[] Split(string? list) =>
        list?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}
