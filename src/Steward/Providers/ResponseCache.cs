using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>Steward's response cache. Bound from <c>Steward:ResponseCache</c>.</summary>
public sealed class ResponseCacheOptions
{
    /// <summary>Serve repeated identical requests (same messages, instructions and options) from the cache. Default off.</summary>
    public bool Enabled { get; set; }

    /// <summary>How long a cached response is served. Default one hour.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// The response cache: M.E.AI's distributed cache, which marks what it serves from the cache in the response's
/// <see cref="ChatResponse.AdditionalProperties"/> (every update of a streamed one). A hit replays the original
/// response, usage included; the mark tells the layers above that it was not paid for again.
/// </summary>
internal sealed class MarkingCachingChatClient(IChatClient inner, Microsoft.Extensions.Caching.Distributed.IDistributedCache cache)
    : DistributedCachingChatClient(inner, cache)
{
    protected override async Task<ChatResponse?> ReadCacheAsync(string key, CancellationToken cancellationToken)
    {
        var response = await base.ReadCacheAsync(key, cancellationToken).ConfigureAwait(false);
        if (response is not null)
        {
            (response.AdditionalProperties ??= [])[CachedResponse.MarkKey] = true;
        }

        return response;
    }

    protected override async Task<IReadOnlyList<ChatResponseUpdate>?> ReadCacheStreamingAsync(string key, CancellationToken cancellationToken)
    {
        var updates = await base.ReadCacheStreamingAsync(key, cancellationToken).ConfigureAwait(false);
        foreach (var update in updates ?? [])
        {
            (update.AdditionalProperties ??= [])[CachedResponse.MarkKey] = true;
        }

        return updates;
    }
}

/// <summary>Reads the response cache's mark.</summary>
public static class CachedResponse
{
    internal const string MarkKey = "steward.from_cache";

    /// <summary>Whether a response (or update) with these properties was served from Steward's response cache.</summary>
    public static bool IsHit(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(MarkKey, out var value) && value is true;
}

/// <summary>Gives every entry the configured lifetime: the caching chat client stores entries without one.</summary>
internal sealed class ExpiringDistributedCache(Microsoft.Extensions.Caching.Distributed.IDistributedCache inner, TimeSpan lifetime)
    : Microsoft.Extensions.Caching.Distributed.IDistributedCache
{
    private Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions Expiring(Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options) =>
        options.AbsoluteExpiration is null && options.AbsoluteExpirationRelativeToNow is null && options.SlidingExpiration is null
            ? new() { AbsoluteExpirationRelativeToNow = lifetime }
            : options;

    public byte[]? Get(string key) => inner.Get(key);

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => inner.GetAsync(key, token);

    public void Set(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options) => inner.Set(key, value, Expiring(options));

    public Task SetAsync(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options, CancellationToken token = default) =>
        inner.SetAsync(key, value, Expiring(options), token);

    public void Refresh(string key) => inner.Refresh(key);

    public Task RefreshAsync(string key, CancellationToken token = default) => inner.RefreshAsync(key, token);

    public void Remove(string key) => inner.Remove(key);

    public Task RemoveAsync(string key, CancellationToken token = default) => inner.RemoveAsync(key, token);
}
