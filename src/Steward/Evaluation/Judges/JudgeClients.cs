using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Steward.Providers;

namespace Steward.Evaluation.Judges;

/// <summary>
/// The judge models' clients, built once per judge through the same provider catalog and factory as agents (so the
/// judge's failures are clean <see cref="ProviderException"/>s and its secrets are scrubbed). Thread-safe.
/// </summary>
internal sealed class JudgeClients(ProviderCatalog providers, ChatClientFactory factory) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<(ResolvedProvider Provider, IChatClient Client)>> _clients = new(StringComparer.Ordinal);

    /// <summary>The judge's provider and client.</summary>
    /// <exception cref="ProviderNotConfiguredException">The judge's provider is not configured.</exception>
    public (ResolvedProvider Provider, IChatClient Client) Get(string judge)
    {
        var lazy = _clients.GetOrAdd(judge, j => new Lazy<(ResolvedProvider, IChatClient)>(() =>
        {
            var (provider, model) = EvaluationOptions.ParseJudge(j);
            ResolvedProvider resolved;
            try
            {
                resolved = providers.Resolve(provider, model);
            }
            catch (ProviderNotConfiguredException ex)
            {
                throw new ProviderNotConfiguredException($"Judge '{j}': {ex.Message}", ex);
            }

            return (resolved, factory.Create(resolved));
        }));
        try
        {
            return lazy.Value;
        }
        catch (ProviderNotConfiguredException)
        {
            // Not cached: a later configuration fix (or another judge) must be able to try again.
            _clients.TryRemove(judge, out _);
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _clients.Values.Where(l => l.IsValueCreated))
        {
            lazy.Value.Client.Dispose();
        }
    }
}
