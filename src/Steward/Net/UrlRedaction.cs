using System.Text.RegularExpressions;

namespace Steward.Net;

/// <summary>
/// Removes credentials written into URLs (<c>http://user:password@host/v1</c>) from any text that is shown or stored:
/// errors, run records, exports, traces, listings. The one owner of that rule; API keys are redacted beside it.
/// </summary>
public static partial class UrlRedaction
{
    /// <summary><paramref name="text"/> with the user-info of every URL in it removed; <see langword="null"/> stays null.</summary>
    public static string? Strip(string? text) => text is null ? null : UserInfo().Replace(text, "${scheme}");

    /// <summary>
    /// The user name and password of <paramref name="url"/> (as written and decoded), so that text which echoes them
    /// without the URL around them can be scrubbed as well.
    /// </summary>
    public static IEnumerable<string> Credentials(string? url)
    {
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.UserInfo.Length == 0)
        {
            yield break;
        }

        foreach (var part in uri.UserInfo.Split(':', 2))
        {
            if (part.Length == 0)
            {
                continue;
            }

            yield return part;
            var decoded = Uri.UnescapeDataString(part);
            if (decoded != part)
            {
                yield return decoded;
            }
        }
    }

    // Greedy up to the authority's last '@', so a raw '@' inside a password does not leave half of it behind.
    [GeneratedRegex(@"(?<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s""'<>]*@")]
    private static partial Regex UserInfo();
}
