using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;

namespace Steward.Web.SignIn;

/// <summary>
/// The sign-in page: rendered on the server without the live connection (a cookie can only be set on an HTTP response),
/// posting to <see cref="AccountEndpoints"/>. Sends the first visitor to the first-run page while there is no user.
/// </summary>
public sealed partial class SignInPage
{
    [Inject] private IOptions<SignInOptions> SignInOptions { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;
    [Inject] private IServiceProvider Services { get; set; } = null!;
    [CascadingParameter] private HttpContext? HttpContext { get; set; }

    [SupplyParameterFromQuery(Name = "returnUrl")] private string? ReturnUrlQuery { get; set; }
    [SupplyParameterFromQuery(Name = "ReturnUrl")] private string? ReturnUrlCookie { get; set; }
    [SupplyParameterFromQuery(Name = "error")] private string? Error { get; set; }
    [SupplyParameterFromQuery(Name = "signedout")] private string? SignedOut { get; set; }

    private SignInOptions Options => SignInOptions.Value;

    private string ReturnUrl => AccountEndpoints.SafeReturnUrl(ReturnUrlQuery ?? ReturnUrlCookie);

    private string OidcUrl => "signin/oidc?returnUrl=" + Uri.EscapeDataString(ReturnUrl);

    private string? Message => Error switch
    {
        "wrong" => "Wrong user name or password.",
        "expired" => "The form had expired; please sign in again.",
        "locked" => $"Too many failed attempts: this account is locked for {Steward.Users.UserStore.LockoutDuration.TotalMinutes:0} minutes. An admin can lift it with 'steward users reset-password'.",
        "norole" => "Your account at the identity provider has no Steward role. Ask an admin to assign you viewer, operator or admin.",
        "setupdone" => "Someone else created the first admin a moment ago. Sign in with that account, or ask its owner to make you one.",
        "oidc" => "Signing in with the identity provider failed. Try again, or ask an admin to check Steward:Auth:Oidc.",
        _ when SignedOut is not null => "You are signed out.",
        _ => null,
    };

    protected override async Task OnInitializedAsync()
    {
        if (!Options.Enabled)
        {
            // No sign-in configured: nothing to sign in to.
            Navigation.NavigateTo("/");
            return;
        }

        if (HttpContext is { } context && await FirstRunGate.IsOpenAsync(Services, context.RequestAborted))
        {
            Navigation.NavigateTo("setup");
        }
    }
}
