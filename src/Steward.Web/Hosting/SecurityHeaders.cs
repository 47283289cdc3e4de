using System.Security.Cryptography;

namespace Steward.Web.Hosting;

/// <summary>
/// Headers every response carries: <c>X-Content-Type-Options: nosniff</c>, <c>Referrer-Policy: same-origin</c>, and a
/// Content-Security-Policy under which only the app's own scripts run (plus the import map Blazor writes inline, allowed
/// by a per-request nonce), so markup that ever slipped into a page could not execute. Styles allow inline: MudBlazor
/// themes with a <c>&lt;style&gt;</c> element and lays components out with <c>style</c> attributes, which run no code.
/// </summary>
internal static class SecurityHeaders
{
    private const string NonceKey = "steward.csp-nonce";

    /// <summary>The nonce of this request's policy, for the one inline script the app writes (the import map).</summary>
    public static string Nonce(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Items[NonceKey] is not string nonce)
        {
            // Hex: 128 random bits in characters no HTML attribute encoder rewrites.
            nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            context.Items[NonceKey] = nonce;
        }

        return nonce;
    }

    public static IApplicationBuilder UseStewardSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (Gateway.GatewayKeys.IsGateway(context.Request))
        {
            // The gateway answers JSON and event streams to programs, never a page: the fixed policy for an API (nothing may
            // load, nothing may frame it) needs no nonce, so a gateway request skips the random bytes, which showed in the
            // gateway benchmark's profile. Set as the response starts, like a page's, so an error page that cleared the
            // headers still carries them.
            context.Response.OnStarting(static state =>
            {
                Apply(((HttpResponse)state).Headers, ApiPolicy);
                return Task.CompletedTask;
            }, context.Response);
            await next(context).ConfigureAwait(false);
            return;
        }

        var nonce = Nonce(context);
        context.Response.OnStarting(() =>
        {
            Apply(context.Response.Headers, Policy(nonce));
            return Task.CompletedTask;
        });
        await next(context).ConfigureAwait(false);
    });

    private static void Apply(IHeaderDictionary headers, string policy)
    {
        headers.XContentTypeOptions = "nosniff";
        // same-origin, not no-referrer: under no-referrer browsers send "Origin: null" on the app's own form posts (sign-in),
        // which the origin check must refuse; other sites still get no referrer.
        headers["Referrer-Policy"] = "same-origin";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = policy;
    }

    /// <summary>The policy of the gateway's responses, which are never rendered: nothing loads, nothing frames them.</summary>
    internal const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    /// <summary>
    /// The policy: everything from the app's own origin; scripts only from it or with this request's nonce; no plugins,
    /// no framing, no foreign base or form targets. 'self' covers the live connection's WebSocket in current browsers.
    /// </summary>
    internal static string Policy(string nonce) =>
        "default-src 'self'; " +
        $"script-src 'self' 'nonce-{nonce}'; " +
        "style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data:; " +
        "font-src 'self' data:; " +
        "connect-src 'self'; " +
        "object-src 'none'; " +
        "base-uri 'self'; " +
        "form-action 'self'; " +
        "frame-ancestors 'none'";
}
