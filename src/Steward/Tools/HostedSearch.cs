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
    /// <summary>Whether the provider runs its own web search (its kind says when: e.g. OpenAI on the Responses API).</summary>
    public static bool Supports(ResolvedProvider provider) => provider.Info.HostsWebSearch(provider.Options);

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

    /// <summary>
    /// The <c>url_citation</c> annotations of a finished Responses message (Microsoft.Extensions.AI streams the text
    /// without them and hands the finished message item over as its raw representation).
    /// </summary>
    public static IEnumerable<(string Url, string? Title, int Start, int End)> Citations(object? raw)
    {
        var item = raw switch
        {
            MessageResponseItem message => message,
            StreamingResponseOutputItemDoneUpdate { Item: MessageResponseItem message } => message,
            _ => null,
        };
        if (item is null)
        {
            yield break;
        }

        foreach (var part in item.Content)
        {
            foreach (var annotation in part.OutputTextAnnotations.OfType<UriCitationMessageAnnotation>())
            {
                yield return (annotation.Uri.ToString(), annotation.Title, annotation.StartIndex, annotation.EndIndex);
            }
        }
    }
#pragma warning restore OPENAI001
}
