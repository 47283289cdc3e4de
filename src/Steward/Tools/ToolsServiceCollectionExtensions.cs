using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Steward.Tools.Corpus;
using Steward.Tools.Mcp;
using Steward.Tools.Search;

namespace Steward.Tools;

/// <summary>Registers the agents' tools: web search and its backends, the corpus, MCP servers.</summary>
public static class ToolsServiceCollectionExtensions
{
    /// <summary>Adds the tools, bound to <c>Steward:WebSearch</c>, <c>Steward:Tools</c> and <c>Steward:Corpus</c>; validated at start.</summary>
    public static IServiceCollection AddStewardTools(this IServiceCollection services, IConfiguration stewardSection)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(stewardSection);
        services.AddOptions<WebSearchOptions>().Bind(stewardSection.GetSection("WebSearch")).ValidateOnStart();
        services.AddOptions<ToolOptions>().Bind(stewardSection.GetSection("Tools")).ValidateOnStart();
        services.AddOptions<CorpusOptions>().Bind(stewardSection.GetSection("Corpus"));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WebSearchOptions>, WebSearchOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ToolOptions>, WebSearchOptionsValidator>());
        // Search APIs answer in seconds; the per-search limit (WebSearch:TimeoutSeconds) is applied per request.
        services.AddHttpClient(SearchHttp.ClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton<CorpusStore>();
        services.TryAddSingleton<McpServerPool>();
        services.TryAddSingleton<ToolCatalog>();
        return services;
    }
}
