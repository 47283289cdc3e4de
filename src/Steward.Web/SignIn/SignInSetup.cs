using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Steward.Users;

namespace Steward.Web.SignIn;

/// <summary>
/// Registers sign-in when <c>Steward:Auth</c> configures any: a cookie for people (local accounts and/or OpenID
/// Connect), a bearer Steward key for scripts on <c>/api</c>. With nothing configured no scheme is registered, and the
/// policies admit every caller of the loopback-only app (see <see cref="Hosting.BindAddressCheck"/>).
/// </summary>
internal static class SignInSetup
{
    public const string Scheme = "Steward";
    public const string CookieScheme = CookieAuthenticationDefaults.AuthenticationScheme;
    public const string OidcScheme = OpenIdConnectDefaults.AuthenticationScheme;
    public const string SignInPath = "/signin";

    public static IServiceCollection AddStewardSignIn(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SignInOptions>().Bind(configuration.GetSection("Steward:Auth")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SignInOptions>, SignInOptionsValidator>();
        services.AddSingleton<FirstRunGate>();
        services.AddCascadingAuthenticationState();
        services.AddScoped<StewardAccess>();

        // Read here, once, because which schemes exist is decided at registration; the validator reports bad values at start.
        var options = configuration.GetSection("Steward:Auth").Get<SignInOptions>() ?? new SignInOptions();
        if (!options.Enabled)
        {
            services.AddAuthentication();
            return services;
        }

        var auth = services.AddAuthentication(o =>
        {
            o.DefaultScheme = Scheme;
            o.DefaultChallengeScheme = Scheme;
        });
        auth.AddPolicyScheme(Scheme, "Steward", o => o.ForwardDefaultSelector = context =>
            KeyAuthenticationHandler.HasBearer(context.Request) && SignInProblems.IsApi(context.Request) ? KeyAuthenticationHandler.SchemeName : CookieScheme);
        auth.AddScheme<AuthenticationSchemeOptions, KeyAuthenticationHandler>(KeyAuthenticationHandler.SchemeName, null);
        auth.AddCookie(CookieScheme, o =>
        {
            o.Cookie.Name = "steward.auth";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = SignInPath;
            o.AccessDeniedPath = "/denied";
            o.ExpireTimeSpan = options.SessionLifetime;
            o.SlidingExpiration = true;
            o.Events = new CookieAuthenticationEvents
            {
                OnValidatePrincipal = ValidateLocalAccountAsync,
                OnRedirectToLogin = context => SignInProblems.IsApi(context.Request)
                    ? SignInProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Not signed in",
                        "Sign in, or send a Steward key with a role: Authorization: Bearer sk-stw-… ('steward keys create NAME --role viewer').")
                    : Redirect(context),
                OnRedirectToAccessDenied = context => SignInProblems.IsApi(context.Request)
                    ? SignInProblems.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden", SignInProblems.ForbiddenDetail(context.HttpContext))
                    : Redirect(context),
            };
        });

        if (options.Oidc.Enabled)
        {
            auth.AddOpenIdConnect(OidcScheme, o => ConfigureOidc(o, options.Oidc));
        }

        return services;
    }

    private static Task Redirect(RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A local account's cookie holds while the account exists with the same stamp: removing a user, changing their
    /// role or password (CLI or another instance) signs their open browsers out at the next request.
    /// </summary>
    private static async Task ValidateLocalAccountAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal?.FindFirst(StewardClaims.Source)?.Value != "local")
        {
            return;
        }

        var id = context.Principal.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        var users = context.HttpContext.RequestServices.GetRequiredService<UserStore>();
        var user = id is null ? null : await users.FindByIdAsync(id, context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (user is null || user.Stamp != context.Principal.FindFirst(StewardClaims.Stamp)?.Value)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieScheme).ConfigureAwait(false);
        }
    }

    private static void ConfigureOidc(OpenIdConnectOptions o, OidcSignInOptions oidc)
    {
        o.SignInScheme = CookieScheme;
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecret;
        o.ResponseType = OpenIdConnectResponseType.Code;
        // The code comes back on a top-level GET, so the correlation and nonce cookies can stay SameSite=Lax (a form_post
        // from the issuer's origin would need SameSite=None, which browsers drop on plain http).
        o.ResponseMode = OpenIdConnectResponseMode.Query;
        o.UsePkce = true;
        o.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        o.CallbackPath = "/signin-oidc";
        o.SignedOutCallbackPath = "/signout-callback-oidc";
        // Tokens are not kept in the cookie: Steward needs who the user is and their role, nothing to call the issuer with.
        // Only the id token is kept (OnTokenValidated), as the id_token_hint signing out at the issuer needs.
        o.SaveTokens = false;
        o.MapInboundClaims = false;
        o.Scope.Clear();
        o.Scope.Add("openid");
        o.Scope.Add("profile");
        foreach (var scope in oidc.Scopes)
        {
            o.Scope.Add(scope);
        }

        o.CorrelationCookie.SameSite = SameSiteMode.Lax;
        o.NonceCookie.SameSite = SameSiteMode.Lax;
        o.Events = new OpenIdConnectEvents
        {
            OnTokenValidated = context =>
            {
                var principal = context.Principal!;
                var role = OidcRoles.Map(principal, oidc);
                if (role is null)
                {
                    context.HandleResponse();
                    context.Response.Redirect(SignInPath + "?error=norole");
                    return Task.CompletedTask;
                }

                var subject = principal.FindFirst("sub")?.Value ?? principal.FindFirst("oid")?.Value ?? "";
                var name = principal.FindFirst("preferred_username")?.Value ?? principal.FindFirst("email")?.Value ?? principal.FindFirst("name")?.Value ?? subject;
                context.Principal = StewardClaims.Create(OidcScheme, "oidc", subject, name, role);
                if ((context.TokenEndpointResponse?.IdToken ?? context.ProtocolMessage?.IdToken) is { Length: > 0 } idToken)
                {
                    context.Properties?.StoreTokens([new AuthenticationToken { Name = OpenIdConnectParameterNames.IdToken, Value = idToken }]);
                }

                return Task.CompletedTask;
            },
            OnRemoteFailure = context =>
            {
                // The issuer's own text may echo what it was sent; the page says what to do without it.
                context.HandleResponse();
                context.Response.Redirect(SignInPath + "?error=oidc");
                return Task.CompletedTask;
            },
        };
    }
}

/// <summary>Turns an issuer's role claim into one of Steward's three roles.</summary>
internal static class OidcRoles
{
    /// <summary>The highest Steward role the principal's <see cref="OidcSignInOptions.RoleClaim"/> values map to, else the default role.</summary>
    public static string? Map(ClaimsPrincipal principal, OidcSignInOptions oidc)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(oidc);
        var values = principal.FindAll(oidc.RoleClaim).SelectMany(c => SplitJsonArray(c.Value));
        var roles = values.Select(v => oidc.RoleMap.TryGetValue(v, out var mapped) ? mapped.Trim().ToLowerInvariant() : v.Trim().ToLowerInvariant())
            .Where(r => StewardRoles.Rank(r) >= 0);
        return roles.MaxBy(StewardRoles.Rank) ?? oidc.DefaultRole?.Trim().ToLowerInvariant();
    }

    // Some issuers put a list in one claim as a JSON array; MapInboundClaims=false keeps it as one string.
    private static string[] SplitJsonArray(string value)
    {
        if (!value.StartsWith('['))
        {
            return [value];
        }

        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<string[]>(value) ?? [];
        }
        catch (System.Text.Json.JsonException)
        {
            return [value];
        }
    }
}
