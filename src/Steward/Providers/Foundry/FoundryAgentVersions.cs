using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Steward.Providers.Foundry;

/// <summary>
/// Finds, or creates once, the Foundry agent version for a preset definition. A version matches when its metadata holds
/// the definition's hash, so every process and every restart reuses it and an edited preset makes exactly one more.
/// Within a process a definition is resolved once (concurrent callers share the lookup); across processes, two that race
/// past the lookup may both create one, so each re-reads the versions after creating and keeps the oldest match,
/// deleting its own extra. Remembers which versions this process created (for <c>CleanupOnShutdown</c>). Thread-safe.
/// </summary>
internal sealed partial class FoundryAgentVersions(TimeProvider time, ILogger<FoundryAgentVersions> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(Uri Project, string Hash), Lazy<Task<FoundryAgentVersion>>> _resolved = new();
    private readonly ConcurrentDictionary<(Uri Project, string Name, string Version), ProviderOptions> _createdHere = new();

    public async Task<FoundryAgentVersion> EnsureAsync(
        FoundryProjectClient project, FoundryAgentDefinition definition, ProviderOptions provider, CancellationToken cancellationToken)
    {
        var key = (project.Project, definition.Hash);
        var lazy = _resolved.GetOrAdd(key, _ => new Lazy<Task<FoundryAgentVersion>>(() => ResolveAsync(project, definition, provider, CancellationToken.None)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            // A failed lookup (the project unreachable, a key rejected) is tried again by the next call.
            _resolved.TryRemove(new KeyValuePair<(Uri, string), Lazy<Task<FoundryAgentVersion>>>(key, lazy));
            throw;
        }
    }

    /// <summary>Drops what this process knows of the definition's version (it was deleted elsewhere): the next call looks it up again.</summary>
    public void Forget(FoundryProjectClient project, FoundryAgentDefinition definition) => _resolved.TryRemove((project.Project, definition.Hash), out _);

    private async Task<FoundryAgentVersion> ResolveAsync(
        FoundryProjectClient project, FoundryAgentDefinition definition, ProviderOptions provider, CancellationToken cancellationToken)
    {
        var existing = await project.ListVersionsAsync(definition.AgentName, cancellationToken).ConfigureAwait(false);
        if (existing.FirstOrDefault(v => v.StewardHash == definition.Hash) is { } match)
        {
            LogReused(logger, definition.AgentName, match.Version);
            return match;
        }

        var created = await project.CreateVersionAsync(definition, agentExists: existing.Count > 0, cancellationToken).ConfigureAwait(false);
        var after = await project.ListVersionsAsync(definition.AgentName, cancellationToken).ConfigureAwait(false);
        var winner = after.FirstOrDefault(v => v.StewardHash == definition.Hash) ?? created;
        if (winner.Version != created.Version)
        {
            // Another process created the same definition first: use its version and take ours back.
            await project.DeleteVersionAsync(created.Name, created.Version, cancellationToken).ConfigureAwait(false);
            LogReused(logger, definition.AgentName, winner.Version);
            return winner;
        }

        _createdHere[(project.Project, created.Name, created.Version)] = provider;
        LogCreated(logger, definition.AgentName, created.Version);
        return created;
    }

    /// <summary>
    /// <c>CleanupOnShutdown</c>: deletes the versions this process created on providers that ask for it, as the process
    /// ends. A failure is logged, never thrown: shutting down goes on.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var ((_, name, version), options) in _createdHere.Where(p => p.Value.CleanupOnShutdown))
        {
            // The chat clients (and their connections) are disposed by now: a connection of its own.
            var (http, project) = FoundryAgentChatClientProvider.Connect(options, time);
            using (http)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(options.TimeoutSeconds));
                    await project.DeleteVersionAsync(name, version, timeout.Token).ConfigureAwait(false);
                    LogDeleted(logger, name, version);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    LogDeleteFailed(logger, name, version, ex.GetType().Name);
                }
            }
        }

        _createdHere.Clear();
    }

    [LoggerMessage(EventId = 1703, Level = LogLevel.Information, Message = "Deleted Foundry agent {Agent} version {Version} on shutdown (CleanupOnShutdown).")]
    private static partial void LogDeleted(ILogger logger, string agent, string version);

    [LoggerMessage(EventId = 1704, Level = LogLevel.Warning, Message = "Could not delete Foundry agent {Agent} version {Version} on shutdown ({Error}); 'steward agents cleanup' removes it later.")]
    private static partial void LogDeleteFailed(ILogger logger, string agent, string version, string error);

    [LoggerMessage(EventId = 1701, Level = LogLevel.Information, Message = "Created Foundry agent {Agent} version {Version} for its preset.")]
    private static partial void LogCreated(ILogger logger, string agent, string version);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Debug, Message = "Reusing Foundry agent {Agent} version {Version}: its definition matches the preset.")]
    private static partial void LogReused(ILogger logger, string agent, string version);
}
