using Microsoft.AspNetCore.Components;
using Steward.Web.Hosting;

namespace Steward.Web.Components;

/// <summary>The document shell, rendered once per request on the server.</summary>
public sealed partial class App
{
    [CascadingParameter] private HttpContext? HttpContext { get; set; }

    /// <summary>The nonce the Content-Security-Policy of this response allows inline scripts with.</summary>
    /// <summary>
    /// Interactive everywhere but the sign-in pages, which render on the server without the live connection: a sign-in
    /// cookie can only be set on an HTTP response.
    /// </summary>
    private IComponentRenderMode? PageRenderMode =>
        HttpContext is null || Microsoft.AspNetCore.Components.Routing.RazorComponentsEndpointHttpContextExtensions.AcceptsInteractiveRouting(HttpContext) ? Microsoft.AspNetCore.Components.Web.RenderMode.InteractiveServer : null;

    private string? Nonce => HttpContext is { } context ? SecurityHeaders.Nonce(context) : null;
}
