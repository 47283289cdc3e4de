using System.Net;
using System.Net.Sockets;

namespace Steward.Net;

/// <summary>
/// Addresses that lead into the machine or its private network (loopback, link-local such as the cloud metadata service
/// at 169.254.169.254, private and carrier-grade NAT ranges, unspecified, multicast and reserved): where an outbound
/// request named by configuration or a user must not go unless the operator allows it.
/// </summary>
internal static class PrivateAddresses
{
    private static readonly IPNetwork[] Ranges =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("fec0::/10"),
        IPNetwork.Parse("ff00::/8"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>Whether <paramref name="address"/> is loopback, link-local, private or otherwise not a public unicast address.</summary>
    public static bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        // IPv6 forms that carry an IPv4 address inside are judged by that address.
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && (Nat64.Contains(address) || SixToFour.Contains(address)))
        {
            var bytes = address.GetAddressBytes();
            var embedded = SixToFour.Contains(address) ? bytes.AsSpan(2, 4) : bytes.AsSpan(12, 4);
            return Contains(new IPAddress(embedded));
        }

        return Ranges.Any(r => r.BaseAddress.AddressFamily == address.AddressFamily && r.Contains(address));
    }

    /// <summary>Whether a URL's host is a private address written out, or a name that always means this machine.</summary>
    public static bool IsPrivateHost(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var host = uri.DnsSafeHost.TrimEnd('.');
        if (IPAddress.TryParse(host, out var literal))
        {
            return Contains(literal);
        }

        // RFC 6761: localhost and every name under it resolve to loopback.
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
