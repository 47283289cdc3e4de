using System.ComponentModel;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using AngleSharp.Html.Parser;
using Microsoft.Extensions.AI;
using Steward.Tools.Corpus;

namespace Steward.Tools.Search;

/// <summary>
/// <c>web_fetch</c>: reads one page a search returned, as text. The page is untrusted input: only http(s); loopback,
/// link-local, private and other non-public addresses are refused (checked on the address actually connected to, so a
/// name that resolves to one is refused too) unless <see cref="WebFetchOptions.AllowPrivateAddresses"/>; at most
/// <see cref="WebFetchOptions.MaxRedirects"/> redirects, each checked again; at most <see cref="WebFetchOptions.MaxBytes"/>
/// read; scripts, styles and navigation stripped; only HTML and plain text accepted.
/// </summary>
internal sealed class WebFetch : IDisposable
{
    public const string Name = "web_fetch";

    private readonly HttpClient _http;
    private readonly WebFetchOptions _options;

    public WebFetch(WebFetchOptions options, TimeSpan timeout)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectCallback = ConnectAsync,
            UseProxy = false,
        };
        _http = new HttpClient(handler) { Timeout = timeout };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Steward", "1.0"));
    }

    public AIFunction Function(ToolRun run) => AIFunctionFactory.Create(
        async ([Description("The page's http(s) address, as a search result gave it.")] string url, CancellationToken cancellationToken) =>
        {
            var (title, address, text) = await FetchAsync(url, cancellationToken).ConfigureAwait(false);
            var numbered = run.Sources.Add([new SearchResult(title, address, SourceLedger.Shorten(text, 300), Name)], Name).Single();
            return $"[{numbered.Number}] {title}\n{address}\n\n{text}";
        },
        Name,
        "Reads a web page (for example one a search returned) and gives its text. Cite it by its number and address.");

    public async Task<(string Title, string Url, string Text)> FetchAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url?.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new WebSearchException($"web_fetch reads only http(s) addresses; '{url}' is not one.");
        }

        for (var redirects = 0; ; redirects++)
        {
            Check(uri);
            using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (redirects >= _options.MaxRedirects)
                {
                    throw new WebSearchException(string.Create(CultureInfo.InvariantCulture, $"{uri.Host} redirected more than {_options.MaxRedirects} times; not followed."));
                }

                uri = new Uri(uri, location);
                if (uri.Scheme is not ("http" or "https"))
                {
                    throw new WebSearchException($"{uri} is not an http(s) address; the redirect was not followed.");
                }

                continue;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new WebSearchException(string.Create(CultureInfo.InvariantCulture, $"{uri.Host} answered {(int)response.StatusCode} {response.ReasonPhrase}."));
            }

            var type = response.Content.Headers.ContentType?.MediaType ?? "text/html";
            if (type is not ("text/html" or "application/xhtml+xml" or "text/plain"))
            {
                throw new WebSearchException($"{uri} is {type}, not a page of text; web_fetch reads HTML and plain text only.");
            }

            var body = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
            if (type == "text/plain")
            {
                return (uri.Host + uri.AbsolutePath, uri.AbsoluteUri, body.Trim());
            }

            var document = new HtmlParser().ParseDocument(body);
            var title = document.Title is { Length: > 0 } t ? t.Trim() : uri.Host + uri.AbsolutePath;
            return (title, uri.AbsoluteUri, HtmlText.Extract(document));
        }
    }

    private async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0 && buffer.Length < _options.MaxBytes)
        {
            buffer.Write(chunk, 0, (int)Math.Min(read, _options.MaxBytes - buffer.Length));
        }

        var charset = response.Content.Headers.ContentType?.CharSet;
        Encoding encoding;
        try
        {
            encoding = charset is { Length: > 0 } ? Encoding.GetEncoding(charset.Trim('"')) : Encoding.UTF8;
        }
        catch (ArgumentException)
        {
            encoding = Encoding.UTF8;
        }

        return encoding.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private void Check(Uri uri)
    {
        if (!_options.AllowPrivateAddresses && (uri.IsLoopback || uri.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IsForbidden(ip))))
        {
            throw new WebSearchException($"web_fetch does not read {uri.Host}: loopback, link-local and private addresses are refused (Steward:Tools:WebFetch:AllowPrivateAddresses).");
        }
    }

    // Checked on the address actually connected to: a public name that resolves to a private address is refused too.
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellationToken).ConfigureAwait(false);
        var allowed = _options.AllowPrivateAddresses ? addresses : addresses.Where(a => !IsForbidden(a)).ToArray();
        if (allowed.Length == 0)
        {
            throw new WebSearchException($"web_fetch does not read {context.DnsEndPoint.Host}: it resolves to a loopback, link-local or private address.");
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
    }

    /// <summary>Loopback, link-local, private, carrier-grade NAT, unspecified, multicast and unique-local addresses.</summary>
    internal static bool IsForbidden(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
        {
            return true;
        }

        var b = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork
            ? b[0] is 0 or 10 or 127 || b[0] >= 224 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168)
              || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] is >= 64 and <= 127)
            : address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Limits of <c>web_fetch</c>. Bound from <c>Steward:Tools:WebFetch</c>.</summary>
public sealed class WebFetchOptions
{
    /// <summary>Read loopback, link-local and private addresses too (an intranet). Default false.</summary>
    public bool AllowPrivateAddresses { get; set; }

    /// <summary>Redirects followed at most. Default 3.</summary>
    public int MaxRedirects { get; set; } = 3;

    /// <summary>Bytes of a page read at most. Default 2 MB.</summary>
    public int MaxBytes { get; set; } = 2 * 1024 * 1024;
}
