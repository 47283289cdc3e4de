using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Steward.Tools.Search;

/// <summary>
/// Sends a search request and reads its JSON, turning every failure into a <see cref="WebSearchException"/> that names
/// the service (never a key: keys travel in headers, which no message repeats). Bodies past a few megabytes are refused.
/// </summary>
internal static partial class SearchHttp
{
    public const string ClientName = "steward-web-search";

    private const int MaxBodyBytes = 4 * 1024 * 1024;

    public static async Task<JsonDocument> SendAsync(HttpClient http, HttpRequestMessage request, string service, string? keyHint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var status = string.Create(CultureInfo.InvariantCulture, $"{(int)response.StatusCode} {response.ReasonPhrase}");
                throw new WebSearchException(response.StatusCode switch
                {
                    HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when keyHint is not null => $"{service} refused the request ({status}): check {keyHint}.",
                    HttpStatusCode.TooManyRequests => $"{service} is rate limiting searches ({status}); try again later.",
                    _ => $"{service} answered {status}.",
                });
            }

            if (response.Content.Headers.ContentLength is > MaxBodyBytes)
            {
                throw new WebSearchException($"{service} sent more than {MaxBodyBytes / 1024 / 1024} MB of results; refused.");
            }

            await using var body = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            using var limited = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, deadline.Token).ConfigureAwait(false)) > 0)
            {
                if (limited.Length + read > MaxBodyBytes)
                {
                    throw new WebSearchException($"{service} sent more than {MaxBodyBytes / 1024 / 1024} MB of results; refused.");
                }

                limited.Write(buffer, 0, read);
            }

            limited.Position = 0;
            return await JsonDocument.ParseAsync(limited, cancellationToken: deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WebSearchException(string.Create(CultureInfo.InvariantCulture, $"{service} did not answer within {timeout.TotalSeconds:0} s."));
        }
        catch (HttpRequestException ex)
        {
            throw new WebSearchException($"{service} could not be reached ({ex.HttpRequestError}).", ex);
        }
        catch (JsonException ex)
        {
            throw new WebSearchException($"{service} did not answer with JSON (is it the right address, with its JSON format enabled?).", ex);
        }
    }

    /// <summary>
    /// Normalises a backend's result list: entries without an address are skipped, text fields are made plain, a missing
    /// title falls back to the address. Every backend names the same things differently; the field names say which.
    /// </summary>
    public static IReadOnlyList<SearchResult> Results(JsonElement results, int count, string backend, string textField, string dateField) =>
        results.EnumerateArray()
            .Select(r => (Url: String(r, "url"), Result: r))
            .Where(r => r.Url is { Length: > 0 })
            .Take(count)
            .Select(r => new SearchResult(PlainText(String(r.Result, "title")) is { Length: > 0 } t ? t : r.Url!, r.Url!, PlainText(String(r.Result, textField)), backend)
            {
                PublishedAt = Date(String(r.Result, dateField)),
            })
            .ToArray();

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static DateTimeOffset? Date(string? value) =>
        value is { Length: > 0 } && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ? date : null;

    /// <summary>A result's text as plain text: search APIs mark matches with HTML (<c>&lt;strong&gt;</c>) and entities.</summary>
    public static string PlainText(string? html) =>
        string.IsNullOrEmpty(html) ? "" : WebUtility.HtmlDecode(TagPattern().Replace(html, "")).Trim();

    [System.Text.RegularExpressions.GeneratedRegex("<[^>]{0,200}>")]
    private static partial System.Text.RegularExpressions.Regex TagPattern();
}
