using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Steward.Web.Hosting;

/// <summary>
/// Without sign-in Steward may only listen where nobody else can connect: loopback. With sign-in configured it may listen
/// anywhere, but not with local accounts and no user yet unless a setup token guards the first-run page (otherwise
/// nobody elsewhere could make the first admin, or, without the rule, anybody could). The addresses are read
/// from the server once it has bound them (whatever set them: <c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>Urls</c>, Kestrel
/// endpoints, <c>HTTP_PORTS</c>), and until they are checked every request is held back with 503, so nothing is served
/// on an address that is about to be refused.
/// </summary>
internal sealed class BindAddressCheck
{
    private volatile bool _passed;

    /// <summary>Whether the bound addresses were checked and found private.</summary>
    public bool Passed => _passed;

    /// <summary>Checks the bound addresses; returns the reason to refuse to run, or <see langword="null"/>.</summary>
    public async Task<string?> CheckAsync(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var exposed = addresses.Where(a => !IsLoopback(a)).ToArray();
        var gate = services.GetRequiredService<Steward.Web.SignIn.FirstRunGate>();
        gate.LoopbackOnly = exposed.Length == 0;
        if (exposed.Length > 0 && !await AuthenticationConfiguredAsync(services).ConfigureAwait(false))
        {
            return $"it listens on {string.Join(", ", exposed)}, which other machines can reach, and no sign-in is configured, so anyone there " +
                "could read and delete every session. Turn on local accounts (Steward:Auth:LocalAccounts=true, or STEWARD_LOCAL_ACCOUNTS=true) " +
                "or OpenID Connect (Steward:Auth:Oidc:Authority, ClientId and ClientSecret), or bind to loopback (--urls http://localhost:5080).";
        }

        if (exposed.Length > 0 && gate.Token is null
            && await Steward.Web.SignIn.FirstRunGate.IsOpenAsync(services, CancellationToken.None).ConfigureAwait(false))
        {
            return $"local accounts are on but there is no user yet, and it listens on {string.Join(", ", exposed)}: the first-run page must not be open " +
                "to the network. Add an admin first ('steward users add NAME --role admin'), or set Steward:Auth:SetupToken=print to get a one-time " +
                "setup token on the console, or start once on loopback (--urls http://localhost:5080) and create the admin there.";
        }

        _passed = true;
        return null;
    }

    /// <summary>Holds requests back with 503 until the bound addresses have been checked.</summary>
    public static IApplicationBuilder UseBindAddressCheck(IApplicationBuilder app)
    {
        var check = app.ApplicationServices.GetRequiredService<BindAddressCheck>();
        return app.Use(async (context, next) =>
        {
            if (!check.Passed)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>Whether a server address accepts connections from this machine only.</summary>
    internal static bool IsLoopback(string address)
    {
        if (address.StartsWith("http://unix:", StringComparison.OrdinalIgnoreCase) || address.StartsWith("https://unix:", StringComparison.OrdinalIgnoreCase)
            || address.StartsWith("http://pipe:", StringComparison.OrdinalIgnoreCase) || address.StartsWith("https://pipe:", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // "*" and "+" are not valid URI hosts; they mean every interface.
        if (!Uri.TryCreate(address.Replace("://*", "://any-interface", StringComparison.Ordinal).Replace("://+", "://any-interface", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return false;
        }

        var host = uri.Host.Trim('[', ']');
        // Kestrel binds "localhost" to the loopback interfaces only; any other name to every interface.
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    private static async Task<bool> AuthenticationConfiguredAsync(IServiceProvider services) =>
        services.GetService<IAuthenticationSchemeProvider>() is { } schemes && (await schemes.GetAllSchemesAsync().ConfigureAwait(false)).Any();
}
