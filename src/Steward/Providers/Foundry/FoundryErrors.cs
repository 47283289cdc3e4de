using System.ClientModel;
using System.Globalization;

namespace Steward.Providers.Foundry;

/// <summary>How Foundry's failures read: the HTTP status with the server's sentence, and how long a 429 asked to wait.</summary>
internal static class FoundryErrors
{
    public static (ProviderFailureKind Kind, string Detail)? Classify(Exception ex)
    {
        for (var current = ex; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case FoundryRequestException { StatusCode: { } status } foundry:
                    return (ProviderErrorChatClient.FromStatus((int)status), foundry.Message + RetryText(foundry.RetryAfter));
                case ClientResultException { Status: 429 } limited:
                    return (ProviderFailureKind.RateLimited, "HTTP 429" + RetryText(RetryAfter(limited)));
            }
        }

        return null;
    }

    private static TimeSpan? RetryAfter(ClientResultException ex) =>
        ex.GetRawResponse()?.Headers.TryGetValue("Retry-After", out var value) == true &&
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : null;

    private static string RetryText(TimeSpan? wait) =>
        wait is { } w && w > TimeSpan.Zero ? string.Create(CultureInfo.InvariantCulture, $", retry after {Math.Ceiling(w.TotalSeconds):0} s") : "";
}
