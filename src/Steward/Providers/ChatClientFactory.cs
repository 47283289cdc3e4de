using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>
/// Builds the <see cref="IChatClient"/> pipeline for a resolved provider: the kind's factory, wrapped so that every
/// failure becomes a clean <see cref="ProviderException"/>.
/// </summary>
public sealed class ChatClientFactory
{
    private readonly Dictionary<string, IChatClientProvider> _providers;
    private readonly ProviderCatalog _catalog;

    public ChatClientFactory(IEnumerable<IChatClientProvider> providers, ProviderCatalog catalog)
    {
        // The last registration of a kind wins, so an application can replace a built-in factory.
        _providers = new Dictionary<string, IChatClientProvider>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers)
        {
            _providers[provider.Kind] = provider;
        }

        _catalog = catalog;
    }

    /// <summary>Creates the client. The caller owns and disposes it.</summary>
    /// <exception cref="ProviderNotConfiguredException">No factory serves the kind, or the provider cannot be set up.</exception>
    public IChatClient Create(ResolvedProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (!_providers.TryGetValue(provider.Kind, out var factory))
        {
            throw new ProviderNotConfiguredException($"No factory is registered for provider kind '{provider.Kind}'.");
        }

        return factory.CreateClient(provider).AsBuilder()
            .UseProviderErrors(provider, _catalog.Secrets().ToArray())
            .Build();
    }
}
