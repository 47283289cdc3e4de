using System.Runtime.CompilerServices;
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
/// Tells the runner whether a response came from the cache. A cache hit replays the original response, usage
/// included; only a layer between the cache and the provider knows whether the provider was called, so that layer
/// marks the probe the runner opened for the call (it flows down the call through an <see cref="AsyncLocal{T}"/>).
/// </summary>
public static class ResponseCacheProbe
{
    private static readonly AsyncLocal<StrongBox<bool>?> Current = new();

    /// <summary>Opens a probe for the calls made in this async flow; read <see cref="Probe.ProviderCalled"/> afterwards.</summary>
    public static Probe Begin()
    {
        var box = new StrongBox<bool>();
        Current.Value = box;
        return new Probe(box);
    }

    internal static void MarkProviderCalled()
    {
        if (Current.Value is { } box)
        {
            box.Value = true;
        }
    }

    /// <summary>An open probe.</summary>
    public readonly struct Probe(StrongBox<bool> box) : IDisposable
    {
        /// <summary>Whether any call below the cache reached the provider.</summary>
        public bool ProviderCalled => box.Value;

        public void Dispose() => Current.Value = null;
    }
}

/// <summary>Sits between the response cache and the provider: every call that gets here is a cache miss.</summary>
internal sealed class ProviderCallMarkerChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ResponseCacheProbe.MarkProviderCalled();
        return base.GetResponseAsync(messages, options, cancellationToken);
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ResponseCacheProbe.MarkProviderCalled();
        return base.GetStreamingResponseAsync(messages, options, cancellationToken);
    }
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
