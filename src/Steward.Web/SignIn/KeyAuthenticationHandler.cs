using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Steward.Keys;

namespace Steward.Web.SignIn;

/// <summary>
/// Scripts calling <c>/api</c> with <c>Authorization: Bearer sk-stw-…</c>: a Steward key made with a role
/// (<c>steward keys create NAME --role viewer|operator|admin</c>) signs them in with that role. Gateway keys (no role) are
/// refused here and keep working on <c>/v1</c>, which checks keys itself.
/// </summary>
internal sealed class KeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "StewardKey";

    private const string FailureKey = "steward.key-failure";

    /// <summary>Whether a request presents a bearer credential (then it is judged by the key alone, never by a cookie).</summary>
    public static bool HasBearer(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var (key, rejection) = await keys.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        var failure = rejection switch
        {
            ApiKeyRejection.None when key!.Role is null =>
                $"The key '{key.Name}' is a gateway key, accepted on /v1 only; make one for /api with 'steward keys create NAME --role viewer|operator|admin'.",
            ApiKeyRejection.None => null,
            ApiKeyRejection.Revoked => "The key was revoked; make a new one ('steward keys create NAME --role …').",
            ApiKeyRejection.Expired => "The key has expired; make a new one ('steward keys create NAME --role …').",
            _ => "The bearer credential is not a Steward key; make one with 'steward keys create NAME --role viewer|operator|admin'.",
        };
        if (failure is not null)
        {
            Context.Items[FailureKey] = failure;
            return AuthenticateResult.Fail(failure);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(
            StewardClaims.Create(SchemeName, "key", key!.Id, "key:" + key.Name, key.Role!), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        SignInProblems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Not signed in",
            Context.Items[FailureKey] as string ?? "Send a Steward key with a role: Authorization: Bearer sk-stw-…");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        SignInProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", SignInProblems.ForbiddenDetail(Context));
}
