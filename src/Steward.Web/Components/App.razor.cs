using Microsoft.AspNetCore.Components;
using Steward.Web.Hosting;

namespace Steward.Web.Components;

/// <summary>The document shell, rendered once per request on the server.</summary>
public sealed partial class App
{
    [CascadingParameter] private HttpContext? HttpContext { get; set; }

    /// <summary>The nonce the Content-Security-Policy of this response allows inline scripts with.</summary>
    private string? Nonce => HttpContext is { } context ? SecurityHeaders.Nonce(context) : null;
}
