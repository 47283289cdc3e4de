using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace Steward.Web.Hosting;

/// <summary>
/// The three roles of the web UI and the API, each a policy that also admits the roles above it (an admin may do what
/// an operator may, an operator what a viewer may). Endpoints and pages name a policy, never a role, so how a caller
/// is signed in (local account, OpenID Connect, a key) stays the sign-in's business.
/// </summary>
internal static class StewardPolicies
{
    /// <summary>Reads: sessions, runs, traces, analytics, budgets, keys without secrets.</summary>
    public const string Viewer = "steward:viewer";

    /// <summary>Chats, runs evaluations, gives feedback, exports.</summary>
    public const string Operator = "steward:operator";

    /// <summary>Changes presets, budgets and keys; deletes and imports sessions.</summary>
    public const string Admin = "steward:admin";

    /// <summary>The role names, lowest first; a user holds a policy when any role at or above its own is in their claims.</summary>
    public static readonly System.Collections.Immutable.ImmutableArray<string> Roles = ["viewer", "operator", "admin"];

    /// <summary>The role a policy of this class stands for (<c>steward:admin</c> → <c>admin</c>), or <see langword="null"/>.</summary>
    public static string? RoleOf(string policy) =>
        policy.StartsWith("steward:", StringComparison.Ordinal) && Roles.Contains(policy["steward:".Length..]) ? policy["steward:".Length..] : null;

    /// <summary>
    /// Registers the three policies. While no authentication scheme is configured (the loopback-only default, see
    /// <see cref="BindAddressCheck"/>), every caller holds every policy: only this machine can connect.
    /// </summary>
    public static IServiceCollection AddStewardPolicies(this IServiceCollection services)
    {
        // The role handler asks which schemes exist; registering the provider adds none (sign-in configures them).
        services.AddAuthentication();
        services.AddSingleton<IAuthorizationHandler, StewardRoleHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Viewer, p => p.AddRequirements(new StewardRoleRequirement("viewer")))
            .AddPolicy(Operator, p => p.AddRequirements(new StewardRoleRequirement("operator")))
            .AddPolicy(Admin, p => p.AddRequirements(new StewardRoleRequirement("admin")));
        return services;
    }
}

/// <summary>Holds the lowest role that satisfies a policy.</summary>
internal sealed record StewardRoleRequirement(string MinimumRole) : IAuthorizationRequirement;

internal sealed class StewardRoleHandler(IAuthenticationSchemeProvider schemes) : AuthorizationHandler<StewardRoleRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, StewardRoleRequirement requirement)
    {
        if (!(await schemes.GetAllSchemesAsync().ConfigureAwait(false)).Any())
        {
            context.Succeed(requirement);
            return;
        }

        var minimum = StewardPolicies.Roles.IndexOf(requirement.MinimumRole);
        for (var i = minimum; i < StewardPolicies.Roles.Length; i++)
        {
            if (context.User.IsInRole(StewardPolicies.Roles[i]))
            {
                context.Succeed(requirement);
                return;
            }
        }
    }
}
