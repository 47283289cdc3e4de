using System.Security.Claims;

namespace Steward.Web.SignIn;

/// <summary>The claims a signed-in Steward principal carries, whichever way it signed in.</summary>
internal static class StewardClaims
{
    /// <summary>How the caller signed in: <c>local</c>, <c>oidc</c> or <c>key</c>.</summary>
    public const string Source = "steward:source";

    /// <summary>A local account's stamp when the cookie was issued; a changed password or role makes it stale.</summary>
    public const string Stamp = "steward:stamp";

    public static ClaimsPrincipal Create(string scheme, string source, string id, string name, string role, string? stamp = null)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, id),
            new(ClaimTypes.Name, name),
            new(ClaimTypes.Role, role),
            new(Source, source),
        };
        if (stamp is not null)
        {
            claims.Add(new Claim(Stamp, stamp));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, ClaimTypes.Name, ClaimTypes.Role));
    }

    /// <summary>The caller's Steward role, or <see langword="null"/>.</summary>
    public static string? Role(ClaimsPrincipal user) => user.FindFirst(ClaimTypes.Role)?.Value;
}
