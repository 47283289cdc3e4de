using System.Text.RegularExpressions;

namespace Steward.Providers;

/// <summary>Scrubs keys out of text that may be shown, logged or exported: the configured ones, and anything key-shaped.</summary>
internal static partial class SecretRedactor
{
    public static string Redact(string message, IEnumerable<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(message);
        // A URL the server or SDK echoes may carry the endpoint's user name and password: drop them with the rest.
        message = Net.UrlRedaction.Strip(message)!;
        foreach (var secret in secrets)
        {
            if (secret.Length >= 4)
            {
                message = message.Replace(secret, "[redacted]", StringComparison.Ordinal);
            }
        }

        // OpenAI echoes a masked fragment of a rejected key ("sk-ab***yz"); drop anything key-shaped too.
        return KeyShaped().Replace(message, "[redacted]");
    }

    [GeneratedRegex(@"\b(sk|pk|rk|tvly)-[A-Za-z0-9_\-\*]{4,}")]
    private static partial Regex KeyShaped();
}
