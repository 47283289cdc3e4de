using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Steward.Users;

namespace Steward.Web.SignIn;

/// <summary>
/// Who may use the first-run page, which makes the first admin while there is no user. Chosen: this machine without a
/// token while the app listens on loopback only (whoever can reach it there could read the database anyway), and
/// anyone with the one-time setup token (<c>Steward:Auth:SetupToken</c>, or <c>print</c> for one printed on the console at
/// start). A request that came through a proxy (forwarding headers) is never taken for this machine, and once a user
/// exists the page is closed for good. Thread-safe.
/// </summary>
internal sealed class FirstRunGate
{
    private readonly string? _token;
    private volatile bool _loopbackOnly;

    public FirstRunGate(IOptions<SignInOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var configured = options.Value.SetupToken?.Trim();
        _token = configured == "print" ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : configured;
        TokenIsGenerated = configured == "print";
    }

    /// <summary>The setup token, when one is configured or was made; <see langword="null"/> otherwise.</summary>
    public string? Token => _token;

    /// <summary>Whether the token was made by this process (so it must be printed for anyone to know it).</summary>
    public bool TokenIsGenerated { get; }

    /// <summary>Set once the bound addresses are known: whether all of them are loopback.</summary>
    public bool LoopbackOnly { get => _loopbackOnly; set => _loopbackOnly = value; }

    /// <summary>Whether this request may make the first admin (given there is no user yet).</summary>
    public bool Admits(HttpContext context, string? presentedToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_token is not null && presentedToken is not null
            && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(_token), System.Text.Encoding.UTF8.GetBytes(presentedToken.Trim())))
        {
            return true;
        }

        return LoopbackOnly && IsFromThisMachine(context);
    }

    /// <summary>Whether the request came from this machine directly, not through a proxy.</summary>
    public static bool IsFromThisMachine(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Request.Headers;
        if (headers.ContainsKey("X-Forwarded-For") || headers.ContainsKey("Forwarded") || headers.ContainsKey("X-Real-IP"))
        {
            return false;
        }

        return context.Connection.RemoteIpAddress is { } ip && IPAddress.IsLoopback(ip);
    }

    /// <summary>Whether the first-run page is open at all: local accounts on and no user yet.</summary>
    public static async Task<bool> IsOpenAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<IOptions<SignInOptions>>().Value;
        return options.LocalAccounts && !await services.GetRequiredService<UserStore>().AnyAsync(cancellationToken).ConfigureAwait(false);
    }
}
