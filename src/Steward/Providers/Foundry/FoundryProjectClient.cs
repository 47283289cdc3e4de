using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Steward.Providers.Foundry;

/// <summary>One version of a Foundry agent, as the project's <c>agents</c> API returns it.</summary>
public sealed record FoundryAgentVersion(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("metadata")] Dictionary<string, string>? Metadata)
{
    /// <summary>When the version was created.</summary>
    public DateTimeOffset Created => DateTimeOffset.FromUnixTimeSeconds(CreatedAt);

    /// <summary>The definition hash Steward stored, or <see langword="null"/> for a version Steward did not create.</summary>
    public string? StewardHash => Metadata?.GetValueOrDefault(FoundryAgentDefinition.HashKey);

    /// <summary>Versions are numbered; ordering by number keeps the oldest first whatever the text looks like.</summary>
    internal long Order => long.TryParse(Version, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;
}

/// <summary>A Foundry request failed with an HTTP status; carries the server's short message and any <c>Retry-After</c>.</summary>
public sealed class FoundryRequestException : HttpRequestException
{
    public FoundryRequestException(HttpStatusCode status, string message, TimeSpan? retryAfter)
        : base(message, null, status) => RetryAfter = retryAfter;

    public FoundryRequestException() { }

    public FoundryRequestException(string message) : base(message) { }

    public FoundryRequestException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>How long the server asked to wait, when it said.</summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>
/// The parts of a Foundry project's REST API Steward uses (<c>api-version=v1</c>): agents and their versions, and
/// conversations. Authentication is the <see cref="HttpClient"/>'s (see <see cref="FoundryAuthHandler"/>). Thread-safe.
/// </summary>
internal sealed class FoundryProjectClient(HttpClient http, Uri project)
{
    private const string ApiVersion = "api-version=v1";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The project endpoint, ending in a slash.</summary>
    public Uri Project { get; } = project.AbsoluteUri.EndsWith('/') ? project : new Uri(project.AbsoluteUri + "/");

    /// <summary>Every version of the agent, oldest first; empty when the agent does not exist.</summary>
    public async Task<IReadOnlyList<FoundryAgentVersion>> ListVersionsAsync(string agentName, CancellationToken cancellationToken)
    {
        var versions = new List<FoundryAgentVersion>();
        string? after = null;
        do
        {
            using var response = await http.GetAsync(Url($"agents/{Uri.EscapeDataString(agentName)}/versions", after), cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return [];
            }

            var page = await ReadAsync<ListPage<FoundryAgentVersion>>(response, cancellationToken).ConfigureAwait(false);
            versions.AddRange(page.Data);
            after = page.HasMore ? page.LastId ?? page.Data.LastOrDefault()?.Id : null;
        }
        while (after is not null);

        return [.. versions.OrderBy(v => v.Order).ThenBy(v => v.CreatedAt)];
    }

    /// <summary>The names of every agent in the project.</summary>
    public async Task<IReadOnlyList<string>> ListAgentNamesAsync(CancellationToken cancellationToken)
    {
        var names = new List<string>();
        string? after = null;
        do
        {
            using var response = await http.GetAsync(Url("agents", after), cancellationToken).ConfigureAwait(false);
            var page = await ReadAsync<ListPage<AgentObject>>(response, cancellationToken).ConfigureAwait(false);
            names.AddRange(page.Data.Select(a => a.Name));
            after = page.HasMore ? page.LastId ?? page.Data.LastOrDefault()?.Id : null;
        }
        while (after is not null);

        return names;
    }

    /// <summary>Creates a version of the agent (the agent itself when it does not exist yet).</summary>
    public async Task<FoundryAgentVersion> CreateVersionAsync(FoundryAgentDefinition definition, bool agentExists, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["definition"] = definition.Definition.DeepClone(),
            ["description"] = "Created by Steward from the preset of the same name.",
            ["metadata"] = JsonSerializer.SerializeToNode(definition.Metadata(), Json),
        };
        if (agentExists)
        {
            using var response = await http.PostAsJsonAsync(Url($"agents/{Uri.EscapeDataString(definition.AgentName)}/versions"), body, cancellationToken).ConfigureAwait(false);
            return await ReadAsync<FoundryAgentVersion>(response, cancellationToken).ConfigureAwait(false);
        }

        body["name"] = definition.AgentName;
        using (var response = await http.PostAsJsonAsync(Url("agents"), body, cancellationToken).ConfigureAwait(false))
        {
            if (response.StatusCode != HttpStatusCode.Conflict)
            {
                return (await ReadAsync<AgentObject>(response, cancellationToken).ConfigureAwait(false)).Versions.Latest;
            }
        }

        // Another process created the agent in between: add the version to it instead.
        return await CreateVersionAsync(definition, agentExists: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes one version; a version already gone counts as deleted.</summary>
    public async Task DeleteVersionAsync(string agentName, string version, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync(Url($"agents/{Uri.EscapeDataString(agentName)}/versions/{Uri.EscapeDataString(version)}"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates an empty conversation and returns its id (<c>conv_…</c>).</summary>
    public async Task<string> CreateConversationAsync(IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(new Uri(Project, "openai/v1/conversations"), new { metadata }, cancellationToken).ConfigureAwait(false);
        return (await ReadAsync<IdObject>(response, cancellationToken).ConfigureAwait(false)).Id;
    }

    private Uri Url(string path, string? after = null) =>
        new(Project, $"{path}?{ApiVersion}" + (after is null ? "" : "&limit=100&after=" + Uri.EscapeDataString(after)));

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new FoundryRequestException(response.StatusCode, $"HTTP {(int)response.StatusCode}: empty answer", null);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => (TimeSpan?)null,
        };
        throw new FoundryRequestException(response.StatusCode, $"HTTP {(int)response.StatusCode}{ServerMessage(text)}", retryAfter);
    }

    // Foundry's errors are {"error": {"code", "message"}}; the message is the useful sentence, cut short.
    private static string ServerMessage(string body)
    {
        try
        {
            if (JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() is { Length: > 0 } message)
            {
                return ": " + (message.Length > 200 ? message[..200] + "…" : message).ReplaceLineEndings(" ");
            }
        }
        catch (JsonException)
        {
        }

        return "";
    }

    private sealed record ListPage<T>(
        [property: JsonPropertyName("data")] List<T> Data,
        [property: JsonPropertyName("has_more")] bool HasMore,
        [property: JsonPropertyName("last_id")] string? LastId);

    private sealed record AgentObject(
        [property: JsonPropertyName("id")] string? Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("versions")] AgentVersions Versions);

    private sealed record AgentVersions([property: JsonPropertyName("latest")] FoundryAgentVersion Latest);

    private sealed record IdObject([property: JsonPropertyName("id")] string Id);
}
