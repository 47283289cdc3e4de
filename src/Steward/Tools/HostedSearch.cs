using Microsoft.Extensions.AI;
using OpenAI.Responses;
using Steward.Providers;

namespace Steward.Tools;

/// <summary>
/// The provider's own web search: the Responses API's <c>web_search</c> tool, with the configured allowed domains,
/// context size and user location; its <c>url_citation</c> annotations come back as the answer's citations.
/// </summary>
internal static class HostedSearch
{
    /// <summary>Whether the provider's client speaks the Responses API, where the hosted tool exists.</summary>
    public static bool Supports(ResolvedProvider provider) =>
        provider.Kind is ProviderKinds.OpenAI or ProviderKinds.OpenAICompatible &&
        string.Equals(provider.Options.Api, "responses", StringComparison.OrdinalIgnoreCase);

#pragma warning disable OPENAI001 // The Responses API's types are marked experimental in the SDK.
    public static AITool Tool(WebSearchOptions options)
    {
        if (options.AllowedDomains.Count == 0 && options.SearchContextSize is null && options.UserLocation is null)
        {
            return new HostedWebSearchTool();
        }

        var location = options.UserLocation is { } l
            ? WebSearchToolLocation.CreateApproximateLocation(l.Country, l.Region, l.City, l.Timezone)
            : null;
        WebSearchToolContextSize? size = options.SearchContextSize is { } s ? new WebSearchToolContextSize(s) : null;
        var filters = options.AllowedDomains.Count > 0 ? new WebSearchToolFilters { AllowedDomains = [.. options.AllowedDomains] } : null;
        return ResponseTool.CreateWebSearchTool(location, size, filters).AsAITool();
    }
#pragma warning restore OPENAI001
}
