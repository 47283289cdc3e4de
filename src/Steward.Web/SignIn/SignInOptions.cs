using Microsoft.Extensions.Options;

namespace Steward.Web.SignIn;

/// <summary>
/// How people and scripts sign in to the web app and <c>/api</c>. Bound from <c>Steward:Auth</c>. With nothing set, the
/// app has no sign-in and may only listen on loopback.
/// </summary>
public sealed class SignInOptions
{
    /// <summary>Local accounts stored in Steward's database (<c>steward users …</c>). Default off. <c>STEWARD_LOCAL_ACCOUNTS=true</c> sets it.</summary>
    public bool LocalAccounts { get; set; }

    /// <summary>
    /// A one-time token that opens the first-run page (which makes the first admin) to a browser on another machine:
    /// a value of at least 16 characters, or <c>print</c> to have Steward make one and print it on the console at start.
    /// The page works from this machine without it while the app listens on loopback only.
    /// </summary>
    public string? SetupToken { get; set; }

    /// <summary>How long a sign-in lasts without activity (sliding). Default 8 hours.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>OpenID Connect sign-in with any issuer (Entra ID, Keycloak, Auth0, Google…).</summary>
    public OidcSignInOptions Oidc { get; set; } = new();

    /// <summary>Whether any sign-in is configured.</summary>
    public bool Enabled => LocalAccounts || Oidc.Enabled;
}

/// <summary>OpenID Connect settings, bound from <c>Steward:Auth:Oidc</c>.</summary>
public sealed class OidcSignInOptions
{
    /// <summary>The issuer (<c>https://login.microsoftonline.com/{tenant}/v2.0</c>); its discovery document is read from <c>/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    /// <summary>The client secret of a confidential client. Never logged or shown.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The claim whose values give the role. Default <c>roles</c> (Entra ID's app roles).</summary>
    public string RoleClaim { get; set; } = "roles";

    /// <summary>
    /// Claim values mapped to Steward's roles (<c>"Steward.Admins": "admin"</c>); a value equal to a role's name
    /// (<c>viewer</c>, <c>operator</c>, <c>admin</c>) maps to it without an entry. The highest role found wins.
    /// </summary>
    public Dictionary<string, string> RoleMap { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The role of a user whose claims name none; <see langword="null"/> (default) refuses them.</summary>
    public string? DefaultRole { get; set; }

    /// <summary>Scopes asked for besides <c>openid</c> and <c>profile</c>.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>The button's text on the sign-in page. Default "your organisation".</summary>
    public string DisplayName { get; set; } = "your organisation";

    /// <summary>Whether the issuer must be reached over HTTPS. Default true; turn off only for a local test issuer.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Whether OpenID Connect is configured (an authority is set).</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);
}

/// <summary>Checks the sign-in settings once at start and lists every problem with the key to fix.</summary>
internal sealed class SignInOptionsValidator : IValidateOptions<SignInOptions>
{
    public ValidateOptionsResult Validate(string? name, SignInOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.SetupToken is { } token && token != "print" && token.Trim().Length < 16)
        {
            problems.Add("Steward:Auth:SetupToken must be 'print' or at least 16 characters.");
        }

        if (options.SessionLifetime <= TimeSpan.Zero || options.SessionLifetime > TimeSpan.FromDays(90))
        {
            problems.Add("Steward:Auth:SessionLifetime must be more than 0 and at most 90 days (e.g. 08:00:00).");
        }

        var oidc = options.Oidc;
        var anyOidc = oidc.Enabled || !string.IsNullOrEmpty(oidc.ClientId) || !string.IsNullOrEmpty(oidc.ClientSecret);
        if (anyOidc)
        {
            if (!oidc.Enabled)
            {
                problems.Add("Steward:Auth:Oidc:Authority is required with a client id or secret (the issuer's URL, e.g. https://login.microsoftonline.com/TENANT/v2.0).");
            }
            else if (!Uri.TryCreate(oidc.Authority, UriKind.Absolute, out var authority) || authority.Scheme is not ("https" or "http"))
            {
                problems.Add("Steward:Auth:Oidc:Authority must be an absolute http(s) URL.");
            }
            else if (authority.Scheme == "http" && oidc.RequireHttpsMetadata)
            {
                problems.Add("Steward:Auth:Oidc:Authority must use https (or set Steward:Auth:Oidc:RequireHttpsMetadata=false for a local test issuer).");
            }

            if (string.IsNullOrWhiteSpace(oidc.ClientId))
            {
                problems.Add("Steward:Auth:Oidc:ClientId is required (the application's client id at the issuer).");
            }

            if (string.IsNullOrWhiteSpace(oidc.RoleClaim))
            {
                problems.Add("Steward:Auth:Oidc:RoleClaim must name a claim (default 'roles').");
            }

            foreach (var (value, role) in oidc.RoleMap)
            {
                if (Steward.Users.StewardRoles.Rank(role?.Trim().ToLowerInvariant()) < 0)
                {
                    problems.Add($"Steward:Auth:Oidc:RoleMap:{value} must be viewer, operator or admin (it is '{role}').");
                }
            }

            if (oidc.DefaultRole is { } fallback && Steward.Users.StewardRoles.Rank(fallback.Trim().ToLowerInvariant()) < 0)
            {
                problems.Add($"Steward:Auth:Oidc:DefaultRole must be viewer, operator or admin, or unset (it is '{fallback}').");
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
