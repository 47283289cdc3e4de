using Microsoft.Extensions.Options;

namespace Steward.Tools;

/// <summary>
/// How presets that enable web search search. Bound from <c>Steward:WebSearch</c>; a preset's <c>web_search:</c> block
/// overrides <see cref="Backend"/> and <see cref="Mode"/>. Validated at start, every problem named with its key. Keys
/// come from here or from <c>SEARXNG_URL</c>, <c>BRAVE_API_KEY</c>, <c>TAVILY_API_KEY</c>; they are never logged,
/// traced, exported or put in an error.
/// </summary>
public sealed class WebSearchOptions
{
    /// <summary>The backends Steward knows, and <c>hosted</c> (the provider's own search tool).</summary>
    public static IReadOnlyList<string> Backends { get; } = [WebSearchBackends.Corpus, WebSearchBackends.Searxng, WebSearchBackends.Brave, WebSearchBackends.Tavily, WebSearchBackends.Hosted];

    /// <summary>The search modes: <c>tool</c> (the model decides) and <c>always</c> (search first, sources in the prompt).</summary>
    public static IReadOnlyList<string> Modes { get; } = [WebSearchModes.Tool, WebSearchModes.Always];

    /// <summary><c>corpus</c> (default: the local document collection, no account), <c>searxng</c>, <c>brave</c>, <c>tavily</c> or <c>hosted</c>.</summary>
    public string Backend { get; set; } = WebSearchBackends.Corpus;

    /// <summary><c>tool</c> (default): a <c>web_search</c> function the model calls; <c>always</c>: search with the question first.</summary>
    public string Mode { get; set; } = WebSearchModes.Tool;

    /// <summary>Results per search. Default 5, at most 20.</summary>
    public int MaxResults { get; set; } = 5;

    /// <summary>Seconds a search may take. Default 15.</summary>
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>A SearXNG instance's base URL (its JSON format enabled). <c>SEARXNG_URL</c> sets it.</summary>
    public string? SearxngUrl { get; set; }

    /// <summary>Brave Search API key. <c>BRAVE_API_KEY</c> sets it.</summary>
    public string? BraveApiKey { get; set; }

    /// <summary>Brave Search API base URL. Default <c>https://api.search.brave.com</c>.</summary>
    public string BraveEndpoint { get; set; } = "https://api.search.brave.com";

    /// <summary>Tavily API key. <c>TAVILY_API_KEY</c> sets it.</summary>
    public string? TavilyApiKey { get; set; }

    /// <summary>Tavily API base URL. Default <c>https://api.tavily.com</c>.</summary>
    public string TavilyEndpoint { get; set; } = "https://api.tavily.com";

    /// <summary><c>hosted</c> only: search only these domains (e.g. <c>iea.org</c>).</summary>
    public List<string> AllowedDomains { get; } = [];

    /// <summary><c>hosted</c> only: <c>low</c>, <c>medium</c> or <c>high</c>.</summary>
    public string? SearchContextSize { get; set; }

    /// <summary><c>hosted</c> only: the user's approximate location, for local results.</summary>
    public WebSearchLocation? UserLocation { get; set; }

    /// <summary>Every key configured here, so errors and exports can be scrubbed of them.</summary>
    internal IEnumerable<string> Secrets() => new[] { BraveApiKey, TavilyApiKey }.Where(k => !string.IsNullOrEmpty(k))!;
}

/// <summary>An approximate location for the provider's hosted search.</summary>
public sealed class WebSearchLocation
{
    /// <summary>Two-letter ISO country code, e.g. <c>GB</c>.</summary>
    public string? Country { get; set; }

    public string? Region { get; set; }

    public string? City { get; set; }

    /// <summary>IANA time zone, e.g. <c>Europe/London</c>.</summary>
    public string? Timezone { get; set; }
}

/// <summary>Backend names.</summary>
public static class WebSearchBackends
{
    public const string Corpus = "corpus";
    public const string Searxng = "searxng";
    public const string Brave = "brave";
    public const string Tavily = "tavily";
    public const string Hosted = "hosted";
}

/// <summary>Mode names.</summary>
public static class WebSearchModes
{
    public const string Tool = "tool";
    public const string Always = "always";
}

/// <summary>Limits on every tool call an agent makes. Bound from <c>Steward:Tools</c>.</summary>
public sealed class ToolOptions
{
    /// <summary>Seconds one tool call may take before it fails (its error goes to the model). Default 30.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>Characters of one tool result the model sees; the rest is cut with a note. Default 8,000.</summary>
    public int MaxResultCharacters { get; set; } = 8_000;

    /// <summary>Seconds to wait for a person to approve a call before it is denied. Default 300.</summary>
    public int ApprovalTimeoutSeconds { get; set; } = 300;

    /// <summary>Seconds an MCP server may take to start and list its tools. Default 30.</summary>
    public int McpStartTimeoutSeconds { get; set; } = 30;

    /// <summary>The <c>web_fetch</c> tool's limits (presets turn it on with <c>web_search: { fetch: true }</c>).</summary>
    public Search.WebFetchOptions WebFetch { get; set; } = new();
}

/// <summary>Checks <see cref="WebSearchOptions"/> and <see cref="ToolOptions"/> at start, listing every problem with its key.</summary>
internal sealed class WebSearchOptionsValidator : IValidateOptions<WebSearchOptions>, IValidateOptions<ToolOptions>
{
    private const string Prefix = "Steward:WebSearch:";

    public ValidateOptionsResult Validate(string? name, WebSearchOptions options)
    {
        var problems = new List<string>();
        if (!WebSearchOptions.Backends.Contains(options.Backend))
        {
            problems.Add($"{Prefix}Backend '{options.Backend}' is not a backend; use one of {string.Join(", ", WebSearchOptions.Backends)}.");
        }

        if (!WebSearchOptions.Modes.Contains(options.Mode))
        {
            problems.Add($"{Prefix}Mode '{options.Mode}' is not a mode; use tool or always.");
        }

        if (options.MaxResults is < 1 or > 20)
        {
            problems.Add($"{Prefix}MaxResults must be between 1 and 20.");
        }

        if (options.TimeoutSeconds is < 1 or > 600)
        {
            problems.Add($"{Prefix}TimeoutSeconds must be between 1 and 600.");
        }

        CheckUrl(problems, "SearxngUrl", options.SearxngUrl);
        CheckUrl(problems, "BraveEndpoint", options.BraveEndpoint);
        CheckUrl(problems, "TavilyEndpoint", options.TavilyEndpoint);
        switch (options.Backend)
        {
            case WebSearchBackends.Searxng when string.IsNullOrWhiteSpace(options.SearxngUrl):
                problems.Add($"{Prefix}Backend is searxng but no instance is set: set SEARXNG_URL or {Prefix}SearxngUrl.");
                break;
            case WebSearchBackends.Brave when string.IsNullOrWhiteSpace(options.BraveApiKey):
                problems.Add($"{Prefix}Backend is brave but no key is set: set BRAVE_API_KEY or {Prefix}BraveApiKey.");
                break;
            case WebSearchBackends.Tavily when string.IsNullOrWhiteSpace(options.TavilyApiKey):
                problems.Add($"{Prefix}Backend is tavily but no key is set: set TAVILY_API_KEY or {Prefix}TavilyApiKey.");
                break;
        }

        if (options.SearchContextSize is { } size && size is not ("low" or "medium" or "high"))
        {
            problems.Add($"{Prefix}SearchContextSize '{size}' must be low, medium or high.");
        }

        if (options.UserLocation?.Country is { } country && (country.Length != 2 || !country.All(char.IsAsciiLetter)))
        {
            problems.Add($"{Prefix}UserLocation:Country '{country}' must be a two-letter country code (e.g. GB).");
        }

        foreach (var domain in options.AllowedDomains.Where(d => string.IsNullOrWhiteSpace(d) || d.Contains("://", StringComparison.Ordinal) || d.Contains('/', StringComparison.Ordinal)))
        {
            problems.Add($"{Prefix}AllowedDomains '{domain}' must be a bare domain such as iea.org.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    public ValidateOptionsResult Validate(string? name, ToolOptions options)
    {
        var problems = new List<string>();
        if (options.TimeoutSeconds is < 1 or > 3600)
        {
            problems.Add("Steward:Tools:TimeoutSeconds must be between 1 and 3600.");
        }

        if (options.MaxResultCharacters is < 200 or > 1_000_000)
        {
            problems.Add("Steward:Tools:MaxResultCharacters must be between 200 and 1000000.");
        }

        if (options.ApprovalTimeoutSeconds is < 1 or > 86_400)
        {
            problems.Add("Steward:Tools:ApprovalTimeoutSeconds must be between 1 and 86400.");
        }

        if (options.McpStartTimeoutSeconds is < 1 or > 600)
        {
            problems.Add("Steward:Tools:McpStartTimeoutSeconds must be between 1 and 600.");
        }

        if (options.WebFetch.MaxRedirects is < 0 or > 10)
        {
            problems.Add("Steward:Tools:WebFetch:MaxRedirects must be between 0 and 10.");
        }

        if (options.WebFetch.MaxBytes is < 1024 or > 50 * 1024 * 1024)
        {
            problems.Add("Steward:Tools:WebFetch:MaxBytes must be between 1024 and 52428800.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void CheckUrl(List<string> problems, string key, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value) &&
            (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            problems.Add($"{Prefix}{key} '{value}' is not an http(s) URL.");
        }
    }
}
