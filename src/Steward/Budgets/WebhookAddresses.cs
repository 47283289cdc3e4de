using System.Net;
using System.Net.Sockets;
using Steward.Net;

namespace Steward.Budgets;

/// <summary>
/// Where budget alerts may be posted. A webhook is a URL a user typed, so without a rule it reaches whatever it names:
/// the cloud metadata service at 169.254.169.254, an admin port on loopback, a database in the private network.
/// Those are refused when a policy is validated (the URL as written) and again when an alert is sent (every address
/// the name resolves to at that moment, so DNS that later points elsewhere gets nowhere), unless
/// <c>Steward:Budgets:AllowPrivateWebhooks</c> is true.
/// </summary>
internal static class WebhookAddresses
{
    public const string AllowSetting = "Steward:Budgets:AllowPrivateWebhooks";

    /// <summary>What is wrong with <paramref name="webhook"/> for the budget <paramref name="policyId"/>, or <see langword="null"/>.</summary>
    public static string? Problem(string policyId, string webhook, bool allowPrivate)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var shown = UrlRedaction.Strip(webhook);
        if (!Uri.TryCreate(webhook, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return $"budget '{policyId}': Webhook '{shown}' is not an http(s) URL";
        }

        if (!allowPrivate && PrivateAddresses.IsPrivateHost(uri))
        {
            return $"budget '{policyId}': Webhook '{shown}' points at this machine or a private network ({uri.Host}); " +
                $"use a public address, or set {AllowSetting} to true to allow it";
        }

        return null;
    }

    /// <summary>The webhook client's handler: it connects only to addresses the rule allows, checked after resolution.</summary>
    public static SocketsHttpHandler CreateHandler(bool allowPrivate, HostResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        return new SocketsHttpHandler
        {
            // A redirect would be a second destination nobody validated.
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var host = context.DnsEndPoint.Host;
                var addresses = IPAddress.TryParse(Bare(host), out var literal)
                    ? [literal]
                    : await resolver.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
                // A proxy the operator configured is reached as itself; the webhook's own host was checked as written.
                var throughProxy = context.InitialRequestMessage.RequestUri is { } target && !string.Equals(Bare(target.IdnHost), Bare(host), StringComparison.OrdinalIgnoreCase);
                var allowed = allowPrivate || throughProxy ? addresses : addresses.Where(a => !PrivateAddresses.Contains(a)).ToArray();
                if (allowed.Length == 0)
                {
                    throw new WebhookAddressRefusedException(
                        $"The webhook host {host} resolves only to private or loopback addresses; set {AllowSetting} to true to allow them.");
                }

                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
    }

    private static string Bare(string host) => host.Trim('[', ']').TrimEnd('.');
}

/// <summary>Resolves host names for outbound requests; replaceable so tests can play a DNS answer.</summary>
internal class HostResolver
{
    public virtual Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>A webhook's host resolved to no address alerts may be sent to.</summary>
internal sealed class WebhookAddressRefusedException : IOException
{
    public WebhookAddressRefusedException(string message) : base(message) { }

    public WebhookAddressRefusedException() { }

    public WebhookAddressRefusedException(string message, Exception innerException) : base(message, innerException) { }
}
