using System.Security.Claims;
using Steward.Web.SignIn;

namespace Steward.Web.Tests.SignIn;

/// <summary>The sign-in settings' validation and the mapping of an issuer's role claim to Steward's roles.</summary>
public sealed class SignInOptionsTests
{
    [Fact]
    public void Validate_NothingConfigured_Succeeds()
    {
        Assert.True(new SignInOptionsValidator().Validate(null, new SignInOptions()).Succeeded);
    }

    [Fact]
    public void Validate_EveryProblem_ListedWithItsKey()
    {
        var options = new SignInOptions
        {
            SetupToken = "short",
            Oidc = new OidcSignInOptions { ClientSecret = "x", RoleClaim = " ", DefaultRole = "guest", RoleMap = { ["A"] = "root" } },
        };

        var failures = new SignInOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(
        [
            "Steward:Auth:SetupToken must be 'print' or at least 16 characters.",
            "Steward:Auth:Oidc:Authority is required with a client id or secret (the issuer's URL, e.g. https://login.microsoftonline.com/TENANT/v2.0).",
            "Steward:Auth:Oidc:ClientId is required (the application's client id at the issuer).",
            "Steward:Auth:Oidc:RoleClaim must name a claim (default 'roles').",
            "Steward:Auth:Oidc:RoleMap:A must be viewer, operator or admin (it is 'root').",
            "Steward:Auth:Oidc:DefaultRole must be viewer, operator or admin, or unset (it is 'guest').",
        ], failures);
    }

    [Theory]
    [InlineData(new[] { "Steward.Readers", "Steward.Admins" }, null, "admin")]
    [InlineData(new[] { "operator" }, null, "operator")]
    [InlineData(new[] { "Everyone" }, null, null)]
    [InlineData(new[] { "Everyone" }, "viewer", "viewer")]
    [InlineData(new[] { "[\"Steward.Readers\",\"x\"]" }, null, "viewer")]
    public void Map_RoleClaimValues_HighestStewardRoleOrTheDefault(string[] values, string? defaultRole, string? expected)
    {
        var oidc = new OidcSignInOptions
        {
            DefaultRole = defaultRole,
            RoleMap = new(StringComparer.OrdinalIgnoreCase) { ["Steward.Admins"] = "admin", ["Steward.Readers"] = "viewer" },
        };
        var principal = new ClaimsPrincipal(new ClaimsIdentity(values.Select(v => new Claim("roles", v)), "test"));

        Assert.Equal(expected, OidcRoles.Map(principal, oidc));
    }
}
