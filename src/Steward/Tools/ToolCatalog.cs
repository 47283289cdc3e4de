using System.ComponentModel;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Providers;
using Steward.Tools.Corpus;
using Steward.Tools.Mcp;
using Steward.Tools.Search;

namespace Steward.Tools;

/// <summary>
/// Puts together the tools of one run from its preset: web search (Steward's <c>web_search</c> function over the
/// configured backend, or the provider's hosted search), the tools of the preset's MCP servers, each wrapped by
/// <see cref="GuardedFunction"/> (time limit, size limit, errors as results, approval where the preset asks). The
/// agents stay shared: tools are per run, passed in the run's options, so each run's sources and approvals are its own.
/// Thread-safe.
/// </summary>
public sealed class ToolCatalog : IDisposable
{
    /// <summary>The name of Steward's search function.</summary>
    public const string WebSearchName = "web_search";

    private readonly WebSearchOptions _search;
    private readonly ToolOptions _tools;
    private readonly IHttpClientFactory _http;
    private readonly CorpusStore _corpus;
    private readonly McpServerPool _mcp;
    private readonly ProviderCatalog _providers;
    private readonly TimeProvider _time;
    private readonly WebFetch _fetch;

    public ToolCatalog(
        IOptions<WebSearchOptions> search, IOptions<ToolOptions> tools, IHttpClientFactory http, CorpusStore corpus, McpServerPool mcp, ProviderCatalog providers,
        TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(search);
        ArgumentNullException.ThrowIfNull(tools);
        _search = search.Value;
        _tools = tools.Value;
        _http = http;
        _corpus = corpus;
        _mcp = mcp;
        _providers = providers;
        _time = time;
        // One client for every run: its connection checks hold for all of them.
        _fetch = new WebFetch(_tools.WebFetch, TimeSpan.FromSeconds(_tools.TimeoutSeconds));
    }

    /// <summary>
    /// The run's tools. Setting up never fails the run: a server that does not start or a backend that is not set up is
    /// noted on the <see cref="ToolRun"/> (its tools are then absent) and the run goes on.
    /// </summary>
    public async Task<RunToolset> PrepareAsync(
        AgentPreset preset, ResolvedProvider provider, IToolApprover? approver, Func<ToolApprovalRequest, ValueTask>? onApprovalRequested,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentNullException.ThrowIfNull(provider);
        var run = new ToolRun(_tools, approver, onApprovalRequested, [.. _providers.Secrets(), .. _search.Secrets()]);
        var tools = new List<AITool>();
        GuardedFunction? searchFirst = null;
        if (preset.EnableWebSearch)
        {
            var backend = preset.WebSearch.Backend ?? _search.Backend;
            var mode = preset.WebSearch.Mode ?? _search.Mode;
            // Where tools live on the provider's side (a Foundry agent), the hosted search is the only one there is.
            if ((backend == WebSearchBackends.Hosted || provider.Info.HostedToolsOnly) && HostedSearch.Supports(provider))
            {
                tools.Add(HostedSearch.Tool(_search));
            }
            else
            {
                if (backend == WebSearchBackends.Hosted)
                {
                    run.Note($"Hosted web search needs a provider on the Responses API ('{provider.Name}' is {provider.Kind}{(provider.Options.Api is { } api ? ", api " + api : "")}); searching the local corpus instead.");
                    backend = WebSearchBackends.Corpus;
                }

                var function = Guard(WebSearch(Backend(backend), run, preset.WebSearch.MaxResults ?? _search.MaxResults), run, preset, server: null);
                if (mode == WebSearchModes.Always)
                {
                    searchFirst = function;
                }
                else
                {
                    tools.Add(function);
                    if (preset.WebSearch.Fetch)
                    {
                        tools.Add(Guard(_fetch.Function(run), run, preset, server: null));
                    }
                }
            }
        }

        foreach (var spec in preset.McpServers)
        {
            if (provider.Info.HostedToolsOnly)
            {
                run.Note($"MCP server {spec.Name} is not available on provider '{provider.Name}' ({provider.Kind}): its agents hold their own tools.");
                continue;
            }

            try
            {
                var functions = await _mcp.GetToolsAsync($"{preset.Name}@{preset.Version}", spec, cancellationToken).ConfigureAwait(false);
                tools.AddRange(functions.Select(f => Guard(f, run, preset, spec)));
            }
            catch (McpToolException ex)
            {
                run.Note(Providers.SecretRedactor.Redact(ex.Message, run.Secrets) + " Its tools are not available in this run.");
            }
        }

        return new RunToolset(run, tools, searchFirst);
    }

    public void Dispose() => _fetch.Dispose();

    /// <summary>What tools a preset has, in a line for people (the Agents page, <c>presets show</c>).</summary>
    public string Describe(AgentPreset preset)
    {
        ArgumentNullException.ThrowIfNull(preset);
        var parts = new List<string>();
        if (preset.EnableWebSearch)
        {
            parts.Add($"web search ({preset.WebSearch.Backend ?? _search.Backend}, {preset.WebSearch.Mode ?? _search.Mode} mode{(preset.WebSearch.Fetch ? ", web_fetch" : "")})");
        }

        parts.AddRange(preset.McpServers.Select(s => $"MCP server {s.Name}{(s.RequireApproval ? " (every call approved)" : "")}"));
        if (preset.RequireApproval.Count > 0)
        {
            parts.Add("approval needed for " + string.Join(", ", preset.RequireApproval));
        }

        return parts.Count == 0 ? "none" : string.Join("; ", parts);
    }

    private GuardedFunction Guard(AIFunction function, ToolRun run, AgentPreset preset, McpServerSpec? server) =>
        new(function, run, (server?.RequireApproval ?? false) || preset.RequireApproval.Contains(function.Name, StringComparer.Ordinal), server?.Name, _time);

    private IWebSearchBackend Backend(string name) => name switch
    {
        WebSearchBackends.Searxng => new SearxngBackend(_http, _search),
        WebSearchBackends.Brave => new BraveBackend(_http, _search),
        WebSearchBackends.Tavily => new TavilyBackend(_http, _search),
        _ => new CorpusBackend(_corpus),
    };

    private static AIFunction WebSearch(IWebSearchBackend backend, ToolRun run, int maxResults)
    {
        var where = backend.Name == WebSearchBackends.Corpus ? "the local document collection" : "the web";
        return AIFunctionFactory.Create(
            async ([Description("What to look for: a few specific keywords or a short question.")] string query, CancellationToken cancellationToken) =>
            {
                if (string.IsNullOrWhiteSpace(query))
                {
                    return "Error: the query is empty; say what to search for.";
                }

                var results = await backend.SearchAsync(query, maxResults, cancellationToken).ConfigureAwait(false);
                var numbered = run.Sources.Add(results, backend.Name);
                if (numbered.Count == 0)
                {
                    return backend.Name == WebSearchBackends.Corpus
                        ? "No document in the local collection matches. (If the collection is empty, documents are added with `steward corpus add PATH`.)"
                        : "No results.";
                }

                return SourceLedger.Format(numbered);
            },
            WebSearchName,
            $"Searches {where} and returns numbered sources (title, address, passage). Cite what you use as [n] with its address; never cite a source it did not return.");
    }
}

/// <summary>A run's tools, and for <c>mode: always</c> the search to make before the model is asked.</summary>
public sealed class RunToolset
{
    private readonly AIFunction? _searchFirst;

    internal RunToolset(ToolRun run, IReadOnlyList<AITool> tools, AIFunction? searchFirst)
    {
        Run = run;
        Tools = tools;
        _searchFirst = searchFirst;
    }

    public ToolRun Run { get; }

    /// <summary>The tools the model is offered.</summary>
    public IReadOnlyList<AITool> Tools { get; }

    /// <summary>Whether the run searches with the question before asking the model (<c>mode: always</c>).</summary>
    public bool SearchesFirst => _searchFirst is not null;

    /// <summary>Searches with <paramref name="query"/> (as the tool call <paramref name="callId"/>) and returns what the tool returned.</summary>
    public async Task<string> SearchFirstAsync(string query, string callId, CancellationToken cancellationToken)
    {
        var function = _searchFirst ?? throw new InvalidOperationException("This run does not search first.");
        var result = await function.InvokeAsync(new AIFunctionArguments { ["query"] = query, Context = new Dictionary<object, object?> { [GuardedFunction.CallIdKey] = callId } }, cancellationToken).ConfigureAwait(false);
        return GuardedFunction.ToText(result).Text;
    }

    /// <summary>
    /// The user's question with the sources found first put before it, numbered, for a model that cannot call tools.
    /// </summary>
    public static string WithSources(string question, string sources) =>
        $"""
        Sources found for this question (cite the ones you use as [n]; do not cite anything else):

        {sources}

        Question: {question}
        """;
}
