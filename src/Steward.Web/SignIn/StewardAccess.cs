using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Steward.Web.Hosting;

namespace Steward.Web.SignIn;

/// <summary>
/// What the user of a page may do, for the page to hide or disable the rest and say why, and to refuse in its handlers
/// too (a circuit's event can be sent without the button). Scoped to the circuit.
/// </summary>
internal sealed class StewardAccess(AuthenticationStateProvider authentication, IAuthorizationService authorization)
{
    /// <summary>Whether the user holds <paramref name="policy"/> (a <see cref="StewardPolicies"/> name).</summary>
    public async Task<bool> AllowsAsync(string policy)
    {
        var state = await authentication.GetAuthenticationStateAsync().ConfigureAwait(false);
        return (await authorization.AuthorizeAsync(state.User, policy).ConfigureAwait(false)).Succeeded;
    }

    /// <summary>Throws when the user lacks <paramref name="policy"/>: the page's handlers call it before acting.</summary>
    /// <exception cref="UnauthorizedAccessException">The role is too low; the message names the role needed.</exception>
    public async Task DemandAsync(string policy)
    {
        if (!await AllowsAsync(policy).ConfigureAwait(false))
        {
            throw new UnauthorizedAccessException(Why(policy));
        }
    }

    /// <summary>Why something is disabled for a user without <paramref name="policy"/>.</summary>
    public static string Why(string policy) => $"Needs the {StewardPolicies.RoleOf(policy)} role.";
}
