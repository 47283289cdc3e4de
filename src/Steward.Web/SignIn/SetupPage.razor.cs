using Microsoft.AspNetCore.Components;

namespace Steward.Web.SignIn;

/// <summary>The first-run page: makes the first admin while local accounts are on and there is no user (see <see cref="FirstRunGate"/>).</summary>
public sealed partial class SetupPage
{
    [Inject] private FirstRunGate Gate { get; set; } = null!;
    [Inject] private IServiceProvider Services { get; set; } = null!;
    [CascadingParameter] private HttpContext? HttpContext { get; set; }

    [SupplyParameterFromQuery(Name = "token")] private string? Token { get; set; }
    [SupplyParameterFromQuery(Name = "error")] private string? Error { get; set; }

    private bool _open;
    private bool _needsToken;

    private string? Message => Error switch
    {
        "token" => "The setup token is missing or wrong. It is printed on Steward's console when it starts with no user.",
        "expired" => "The form had expired; please fill it in again.",
        "mismatch" => "The two passwords differ.",
        "invalid" => $"Use a user name without spaces and a password of at least {Steward.Users.UserStore.MinPasswordLength} characters.",
        _ => null,
    };

    protected override async Task OnInitializedAsync()
    {
        if (HttpContext is not { } context)
        {
            return;
        }

        _open = await FirstRunGate.IsOpenAsync(Services, context.RequestAborted);
        _needsToken = !Gate.Admits(context, Token);
    }
}
