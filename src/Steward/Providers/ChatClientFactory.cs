using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace Steward.Providers;

/// <summary>
/// Builds the <see cref="IChatClient"/> pipeline for a resolved provider: the kind's factory, wrapped so that every
/// failure becomes a clean <see cref="ProviderException"/>.
/// </summary>
public sealed class ChatClientFactory
{
    private readonly Dictionary<string, IChatClientProvider> _providers;
    private readonly ProviderCatalog _catalog;

    private readonly IDistributedCache? _cache;
    private readonly ResponseCacheOptions _cacheOptions;

    public ChatClientFactory(IEnumerable<IChatClientProvider> providers, ProviderCatalog catalog, IOptions<ResponseCacheOptions>? cacheOptions = null, IDistributedCache? cache = null)
    {
        _cacheOptions = cacheOptions?.Value ?? new ResponseCacheOptions();
        _cache = _cacheOptions.Enabled && cache is not null ? new ExpiringDistributedCache(cache, _cacheOptions.Duration) : null;
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

        var builder = factory.CreateClient(provider).AsBuilder();
        if (_cache is not null)
        {
            // Outermost first: the cache, then the marker that sees only misses, then error translation.
            builder.UseDistributedCache(_cache).Use(inner => new ProviderCallMarkerChatClient(inner));
        }

        return builder.UseProviderErrors(provider, _catalog.Secrets().ToArray()).Build();
    }
}
