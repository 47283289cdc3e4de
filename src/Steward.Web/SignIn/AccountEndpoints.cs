using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Steward.Users;

namespace Steward.Web.SignIn;

/// <summary>
/// The form posts behind the sign-in and first-run pages, and sign-out. Each validates the form's antiforgery token
/// (minimal-API form binding does, with <c>UseAntiforgery</c>) and answers with a redirect, so a browser without the live
/// connection signs in too. Failures come back as a code in the query, never with what was typed.
/// </summary>
internal static partial class AccountEndpoints
{
    public static WebApplication MapStewardAccount(this WebApplication app)
    {
        // Read from configuration, not IOptions: invalid settings are reported in one line by CheckStewardStartAsync, before mapping.
        var options = app.Configuration.GetSection("Steward:Auth").Get<SignInOptions>() ?? new SignInOptions();
        if (!options.Enabled)
        {
            return app;
        }

        var account = app.MapGroup("").AllowAnonymous();
        // The forms are read by hand after checking the antiforgery result the middleware left (see ReadFormAsync).
        var antiforgery = new Microsoft.AspNetCore.Antiforgery.RequireAntiforgeryTokenAttribute();
        account.MapPost("/account/signout", SignOutAsync).WithMetadata(antiforgery);
        if (options.LocalAccounts)
        {
            account.MapPost("/account/signin", SignInAsync).WithMetadata(antiforgery);
            account.MapPost("/account/setup", SetupAsync).WithMetadata(antiforgery);
        }

        if (options.Oidc.Enabled)
        {
            account.MapGet("/signin/oidc", (string? returnUrl) =>
                TypedResults.Challenge(new AuthenticationProperties { RedirectUri = SafeReturnUrl(returnUrl) }, [SignInSetup.OidcScheme]));
        }

        return app;
    }

    private static async Task<RedirectHttpResult> SignInAsync(HttpContext context, UserStore users, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (await ReadFormAsync(context, cancellationToken).ConfigureAwait(false) is not { } form)
        {
            return TypedResults.LocalRedirect(SignInSetup.SignInPath + "?error=expired");
        }

        var back = SafeReturnUrl(form["returnUrl"]);
        var outcome = await users.VerifyAsync(form["name"].ToString(), form["password"].ToString(), cancellationToken).ConfigureAwait(false);
        var logger = loggers.CreateLogger(typeof(AccountEndpoints));
        switch (outcome.Status)
        {
            case SignInStatus.Succeeded:
                var user = outcome.User!;
                await context.SignInAsync(SignInSetup.CookieScheme,
                    StewardClaims.Create(SignInSetup.CookieScheme, "local", user.Id, user.Name, user.Role, user.Stamp)).ConfigureAwait(false);
                LogSignedIn(logger, user.Id, user.Role);
                return TypedResults.LocalRedirect(back);
            case SignInStatus.LockedOut:
                LogLockedOut(logger);
                return TypedResults.LocalRedirect(SignInSetup.SignInPath + "?error=locked&returnUrl=" + Uri.EscapeDataString(back));
            default:
                LogRefused(logger);
                return TypedResults.LocalRedirect(SignInSetup.SignInPath + "?error=wrong&returnUrl=" + Uri.EscapeDataString(back));
        }
    }

    private static async Task<RedirectHttpResult> SetupAsync(HttpContext context, UserStore users, FirstRunGate gate, CancellationToken cancellationToken)
    {
        if (!await FirstRunGate.IsOpenAsync(context.RequestServices, cancellationToken).ConfigureAwait(false))
        {
            return TypedResults.LocalRedirect(SignInSetup.SignInPath);
        }

        if (await ReadFormAsync(context, cancellationToken).ConfigureAwait(false) is not { } form)
        {
            return TypedResults.LocalRedirect("/setup?error=expired");
        }

        string? token = form["token"];
        string? name = form["name"];
        string? password = form["password"];
        var keep = string.IsNullOrEmpty(token) ? "" : "&token=" + Uri.EscapeDataString(token);
        if (!gate.Admits(context, token))
        {
            return TypedResults.LocalRedirect("/setup?error=token");
        }

        if (!string.Equals(password, form["confirm"], StringComparison.Ordinal))
        {
            return TypedResults.LocalRedirect("/setup?error=mismatch" + keep);
        }

        if (UserStore.ValidateName(name).Any() || UserStore.ValidatePassword(password).Any())
        {
            return TypedResults.LocalRedirect("/setup?error=invalid" + keep);
        }

        UserInfo admin;
        try
        {
            admin = await users.CreateFirstAdminAsync(name!, password!, cancellationToken).ConfigureAwait(false);
        }
        catch (FirstRunClosedException)
        {
            // Another form (on this instance or another) won the race: say so rather than silently showing sign-in.
            return TypedResults.LocalRedirect(SignInSetup.SignInPath + "?error=setupdone");
        }

        await context.SignInAsync(SignInSetup.CookieScheme,
            StewardClaims.Create(SignInSetup.CookieScheme, "local", admin.Id, admin.Name, admin.Role, admin.Stamp)).ConfigureAwait(false);
        return TypedResults.LocalRedirect("/");
    }

    /// <summary>
    /// The posted form, or <see langword="null"/> when its antiforgery token is missing or stale (a page left open across a
    /// restart): the user is sent back to the form, which has a fresh token, instead of an error page.
    /// </summary>
    private static async Task<IFormCollection?> ReadFormAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Antiforgery.IAntiforgeryValidationFeature>() is not { IsValid: true } || !context.Request.HasFormContentType)
        {
            return null;
        }

        return await context.Request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Results<RedirectHttpResult, EmptyHttpResult>> SignOutAsync(
        HttpContext context, ILoggerFactory loggers, IOptionsMonitor<OpenIdConnectOptions> oidc, CancellationToken cancellationToken)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Antiforgery.IAntiforgeryValidationFeature>() is not { IsValid: true })
        {
            // Another site cannot sign the user out either.
            return TypedResults.LocalRedirect("/");
        }

        var logger = loggers.CreateLogger(typeof(AccountEndpoints));
        if (context.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value is { } id)
        {
            LogSignedOut(logger, id);
        }

        var signedOut = SignInSetup.SignInPath + "?signedout=1";
        if (context.User.FindFirst(StewardClaims.Source)?.Value == "oidc" && await EndSessionEndpointAsync(oidc, logger, cancellationToken).ConfigureAwait(false))
        {
            // Signed out at the issuer too, or its session would sign the user straight back in: the handler redirects to its
            // end_session_endpoint with the id token as hint, and the issuer back to /signout-callback-oidc, then to sign-in.
            await context.SignOutAsync(SignInSetup.OidcScheme, new AuthenticationProperties { RedirectUri = signedOut }).ConfigureAwait(false);
            await context.SignOutAsync(SignInSetup.CookieScheme).ConfigureAwait(false);
            return TypedResults.Empty;
        }

        await context.SignOutAsync(SignInSetup.CookieScheme).ConfigureAwait(false);
        return TypedResults.LocalRedirect(signedOut);
    }

    /// <summary>Whether OpenID Connect is on and its issuer advertises an end_session_endpoint (else sign-out is local only).</summary>
    private static async Task<bool> EndSessionEndpointAsync(IOptionsMonitor<OpenIdConnectOptions> oidc, ILogger logger, CancellationToken cancellationToken)
    {
        if (oidc.Get(SignInSetup.OidcScheme) is not { ConfigurationManager: { } manager })
        {
            return false;
        }

        try
        {
            var configuration = await manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
            return !string.IsNullOrEmpty(configuration.EndSessionEndpoint);
        }
        catch (InvalidOperationException ex)
        {
            // The issuer cannot be reached now: sign out here at least.
            LogIssuerUnreachable(logger, ex);
            return false;
        }
    }

    /// <summary>A return address inside the app, or <c>/</c>: an absolute or protocol-relative one would send the user elsewhere.</summary>
    internal static string SafeReturnUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal)
            && !returnUrl.StartsWith("/\\", StringComparison.Ordinal) && !returnUrl.Any(char.IsControl)
            ? returnUrl
            : "/";

    // Who signed in is logged by id and role only; names typed at a failed attempt are not logged (they are often passwords).
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "User {UserId} signed in as {Role}.")]
    private static partial void LogSignedIn(ILogger logger, string userId, string role);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "User {UserId} signed out.")]
    private static partial void LogSignedOut(ILogger logger, string userId);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "The identity provider's configuration could not be read; the user was signed out of Steward only.")]
    private static partial void LogIssuerUnreachable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "A sign-in was refused: wrong name or password.")]
    private static partial void LogRefused(ILogger logger);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "A sign-in was refused: the account is locked after repeated failures.")]
    private static partial void LogLockedOut(ILogger logger);
}
