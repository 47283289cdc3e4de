using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Providers.Foundry;

/// <summary>One version of a Foundry agent in a configured project, with what Steward knows of its use.</summary>
/// <param name="Provider">The configured provider (project) it lives in.</param>
/// <param name="Name">The agent name.</param>
/// <param name="Version">The version.</param>
/// <param name="Created">When Foundry created it.</param>
/// <param name="CreatedBySteward">Whether Steward created it (its metadata holds a definition hash).</param>
/// <param name="InUse">Whether a current preset's definition is this version.</param>
/// <param name="LastUsed">The start of the last Steward run on it, if any.</param>
/// <param name="SessionsServed">How many Steward sessions ran on it.</param>
public sealed record FoundryAgentInfo(
    string Provider, string Name, string Version, DateTimeOffset Created, bool CreatedBySteward, bool InUse, DateTimeOffset? LastUsed, int SessionsServed);

/// <summary>
/// The Foundry agents of every configured <c>foundry-agent</c> provider: listed with their use, and cleaned up (the
/// versions Steward created that no current preset uses; never a version someone else made). Thread-safe.
/// </summary>
public sealed class FoundryAgents
{
    private readonly ProviderCatalog _providers;
    private readonly PresetCatalog _presets;
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly TimeProvider _time;

    internal FoundryAgents(ProviderCatalog providers, PresetCatalog presets, IDbContextFactory<StewardDbContext> contexts, TimeProvider time)
    {
        _providers = providers;
        _presets = presets;
        _contexts = contexts;
        _time = time;
    }

    /// <summary>Whether any <c>foundry-agent</c> provider is configured.</summary>
    public bool AnyConfigured => FoundryProviders().Any();

    /// <summary>Every version of every agent in each configured project, by provider, name and version.</summary>
    /// <exception cref="ProviderException">A project cannot be reached or rejects the credentials.</exception>
    public async Task<IReadOnlyList<FoundryAgentInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var result = new List<FoundryAgentInfo>();
        foreach (var provider in FoundryProviders())
        {
            var inUse = CurrentDefinitions(provider);
            var (http, project) = FoundryAgentChatClientProvider.Connect(provider.Options, _time);
            using (http)
            {
                IReadOnlyList<FoundryAgentVersion> versions;
                try
                {
                    var names = await project.ListAgentNamesAsync(cancellationToken).ConfigureAwait(false);
                    var all = new List<FoundryAgentVersion>();
                    foreach (var name in names)
                    {
                        all.AddRange(await project.ListVersionsAsync(name, cancellationToken).ConfigureAwait(false));
                    }

                    versions = all;
                }
                catch (HttpRequestException ex)
                {
                    throw Translate(provider, ex);
                }

                var use = await UseAsync(provider.Name, cancellationToken).ConfigureAwait(false);
                foreach (var v in versions.OrderBy(v => v.Name, StringComparer.Ordinal).ThenBy(v => v.Order))
                {
                    var presetVersion = v.Metadata?.GetValueOrDefault(FoundryAgentDefinition.PresetVersionKey);
                    var usage = presetVersion is not null && use.TryGetValue((v.Name, presetVersion), out var u) ? u : (LastUsed: (DateTimeOffset?)null, Sessions: 0);
                    result.Add(new FoundryAgentInfo(provider.Name, v.Name, v.Version, v.Created, v.StewardHash is not null,
                        v.StewardHash is { } hash && inUse.Contains((v.Name, hash)), usage.LastUsed, usage.Sessions));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Deletes the versions Steward created that no current preset uses (with <paramref name="dryRun"/>, only says which).
    /// Versions made outside Steward are never touched.
    /// </summary>
    /// <returns>The versions deleted (or that would be).</returns>
    public async Task<IReadOnlyList<FoundryAgentInfo>> CleanupAsync(bool dryRun, CancellationToken cancellationToken)
    {
        var stale = (await ListAsync(cancellationToken).ConfigureAwait(false)).Where(v => v.CreatedBySteward && !v.InUse).ToList();
        if (dryRun)
        {
            return stale;
        }

        foreach (var group in stale.GroupBy(v => v.Provider, StringComparer.OrdinalIgnoreCase))
        {
            var provider = _providers.Resolve(group.Key, null);
            var (http, project) = FoundryAgentChatClientProvider.Connect(provider.Options, _time);
            using (http)
            {
                foreach (var version in group)
                {
                    try
                    {
                        await project.DeleteVersionAsync(version.Name, version.Version, cancellationToken).ConfigureAwait(false);
                    }
                    catch (HttpRequestException ex)
                    {
                        throw Translate(provider, ex);
                    }
                }
            }
        }

        return stale;
    }

    private IEnumerable<ResolvedProvider> FoundryProviders() =>
        _providers.List().Where(p => p.Kind == ProviderKinds.FoundryAgent).Select(p => _providers.Resolve(p.Name, null));

    // The (agent, hash) of every preset that runs on this provider, as it reads now.
    private HashSet<(string, string)> CurrentDefinitions(ResolvedProvider provider)
    {
        var current = new HashSet<(string, string)>();
        foreach (var preset in _presets.LoadAll())
        {
            var resolved = _providers.Resolve(preset.Provider, preset.Model);
            if (string.Equals(resolved.Name, provider.Name, StringComparison.OrdinalIgnoreCase))
            {
                var definition = FoundryAgentDefinition.For(preset, resolved);
                current.Add((definition.AgentName, definition.Hash));
            }
        }

        return current;
    }

    // Runs on this provider by (agent name, preset version): the last start and how many sessions.
    private async Task<Dictionary<(string, string), (DateTimeOffset? LastUsed, int Sessions)>> UseAsync(string provider, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Runs.AsNoTracking().Where(r => r.Provider == provider)
            .GroupBy(r => new { r.PresetName, r.PresetVersion })
            .Select(g => new { g.Key.PresetName, g.Key.PresetVersion, Last = g.Max(r => r.StartedAt), Sessions = g.Select(r => r.SessionId).Distinct().Count() })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ToDictionary(
            r => (FoundryAgentDefinition.AgentNameOf(r.PresetName), r.PresetVersion),
            r => ((DateTimeOffset?)new DateTimeOffset(DateTime.SpecifyKind(r.Last, DateTimeKind.Utc)), r.Sessions));
    }

    private static ProviderException Translate(ResolvedProvider provider, HttpRequestException ex)
    {
        var (kind, detail) = FoundryErrors.Classify(ex) ?? (ProviderFailureKind.Unreachable, ex.HttpRequestError.ToString());
        // The server's sentence is quoted: whatever it echoes, the project's key is not shown.
        return new ProviderException(provider.Name, kind, SecretRedactor.Redact(
            $"Provider '{provider.Name}' (foundry-agent) could not list or delete agents ({detail}). Check the project endpoint and the API key or identity.",
            provider.Options.ApiKey is { Length: > 0 } key ? [key] : []));
    }
}
