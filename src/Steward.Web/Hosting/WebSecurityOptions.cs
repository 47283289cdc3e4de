namespace Steward.Web.Hosting;

/// <summary>Who may talk to the web app. Bound from <c>Steward:Web</c>.</summary>
public sealed class WebSecurityOptions
{
    /// <summary>
    /// Host names the app answers besides the loopback ones (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>), separated by
    /// <c>;</c> as in ASP.NET Core's own <c>AllowedHosts</c> (which is honoured too). A request for any other host gets 400,
    /// so a name that an attacker points at 127.0.0.1 (DNS rebinding) reaches nothing.
    /// </summary>
    public string? AllowedHosts { get; set; }

    /// <summary>
    /// Origins (<c>https://steward.example.com</c>) besides the app's own from which a browser may open the live
    /// connection or send a POST, PUT, PATCH or DELETE, separated by <c>;</c>. Default none: another site's page cannot
    /// drive the app from a visitor's browser.
    /// </summary>
    public string? AllowedOrigins { get; set; }
}
