using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI.Evaluation;

namespace Steward.Evaluation.Heuristics;

/// <summary>
/// <c>citations</c>: whether the answer backs itself with references, and whether they look real (0–1, the share of
/// citations not flagged; 0 with none). URLs pointing at placeholder, local or reserved hosts are flagged as
/// unreachable-looking; when a search tool ran, every cited URL must be one it returned, else it is flagged as
/// possibly invented. Named sources ("Source: Gartner, 2024") and numbered references count as citations.
/// </summary>
internal sealed partial class CitationEvaluator : HeuristicEvaluator
{
    public const string MetricName = "citations";

    private static readonly string[] ReservedSuffixes = [".example", ".test", ".invalid", ".localhost", ".local", ".internal"];
    private static readonly string[] PlaceholderHosts = ["example.com", "example.org", "example.net", "domain.com", "website.com", "yourdomain.com", "url.com", "link.com"];

    public override IReadOnlyCollection<string> EvaluationMetricNames { get; } = [MetricName];

    protected override IEnumerable<EvaluationMetric> Evaluate(AnswerText answer, AnswerExpectations? expectations, ToolSources? sources)
    {
        var urls = Urls(answer.Text).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        // A "Source:" line that holds a URL is counted once, as the URL.
        var named = NamedSource().Matches(answer.Text).Count(m => !m.Value.Contains("http", StringComparison.OrdinalIgnoreCase)) + NumberedReference().Matches(answer.Text).Select(m => m.Value).Distinct().Count();
        if (urls.Length == 0 && named == 0)
        {
            yield return StewardMetrics.Numeric(MetricName, 0, 0, "No references or URLs: the answer cites nothing.");
            yield break;
        }

        var returned = sources is { SearchRan: true }
            ? sources.Results.SelectMany(r => Urls(r.Content)).Concat(sources.Citations.Select(c => c.Url))
                .Select(Normalize).Where(u => u is not null).ToHashSet(StringComparer.OrdinalIgnoreCase)!
            : null;
        var flagged = new List<string>();
        if (sources is { Citations.Count: > 0 } numberedSources)
        {
            // A numbered reference past the sources the run was given points at nothing.
            foreach (var reference in NumberedReference().Matches(answer.Text).Select(m => m.Value).Distinct())
            {
                if (int.Parse(reference.AsSpan(1, reference.Length - 2), CultureInfo.InvariantCulture) > numberedSources.Citations.Count)
                {
                    flagged.Add($"{reference} (the run had {numberedSources.Citations.Count} source(s): possibly invented)");
                }
            }
        }

        foreach (var url in urls)
        {
            if (Unreachable(url) is { } why)
            {
                flagged.Add($"{url} ({why})");
            }
            else if (returned is not null && !returned.Contains(Normalize(url)!) && !sources!.Citations.Any(c => string.Equals(c.Url, url, StringComparison.OrdinalIgnoreCase)))
            {
                flagged.Add($"{url} (not among the search results: possibly invented)");
            }
        }

        var total = urls.Length + named;
        var good = total - flagged.Count;
        var share = (double)good / total;
        var reason = string.Create(CultureInfo.InvariantCulture, $"{total} citation(s): {urls.Length} URL(s), {named} named or numbered reference(s)") +
            (returned is not null ? string.Create(CultureInfo.InvariantCulture, $"; checked against {returned.Count} URL(s) the search tool returned") : "") +
            (flagged.Count > 0 ? ". Flagged: " + string.Join("; ", flagged) + "." : "; none flagged.");
        yield return StewardMetrics.Numeric(MetricName, share, share, reason);
    }

    internal static IEnumerable<string> Urls(string text) =>
        UrlPattern().Matches(text).Select(m => m.Value.TrimEnd('.', ',', ';', ':', '!', '?', '\'', '"', '*', '_'));

    /// <summary>Host and path without scheme, "www.", query, fragment or trailing slash: how two links to one page compare.</summary>
    internal static string? Normalize(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile)
        {
            return null;
        }

        var host = uri.Host.StartsWith("www.", StringComparison.OrdinalIgnoreCase) ? uri.Host[4..] : uri.Host;
        return (host + uri.AbsolutePath.TrimEnd('/')).ToLowerInvariant();
    }

    /// <summary>Why a URL cannot be a real public source, or <see langword="null"/> when it could be.</summary>
    internal static string? Unreachable(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return "malformed";
        }

        var host = uri.Host.ToLowerInvariant();
        if (url.Contains("...", StringComparison.Ordinal) || url.Contains('…', StringComparison.Ordinal) || host.Contains("xxx", StringComparison.Ordinal))
        {
            return "a placeholder";
        }

        if (host == "localhost" || ReservedSuffixes.Any(s => host.EndsWith(s, StringComparison.Ordinal)))
        {
            return "a reserved or local host";
        }

        if (PlaceholderHosts.Any(p => host == p || host.EndsWith("." + p, StringComparison.Ordinal)))
        {
            return "a placeholder domain";
        }

        if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
        {
            return IsPrivate(ip) ? "a private address" : "a bare IP address";
        }

        var dot = host.LastIndexOf('.');
        return dot <= 0 || host.Length - dot - 1 < 2 ? "not a public domain name" : null;
    }

    private static bool IsPrivate(IPAddress ip)
    {
        if (IPAddress.IsLoopback(ip))
        {
            return true;
        }

        var b = ip.GetAddressBytes();
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? b[0] == 10 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
            : ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6UniqueLocal;
    }

    [GeneratedRegex(@"\bhttps?://[^\s<>()\[\]""'`]+", RegexOptions.IgnoreCase)]
    private static partial Regex UrlPattern();

    [GeneratedRegex(@"^[ \t]*(?:[-*][ \t]*)?(?:\*\*)?(?:sources?|references?|citations?|according to)(?:\*\*)?(?:[ \t]*:)?(?:\*\*)?[ \t]+[^\s:*].*$", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex NamedSource();

    [GeneratedRegex(@"\[\d{1,3}\]")]
    private static partial Regex NumberedReference();
}
