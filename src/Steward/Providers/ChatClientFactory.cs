using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;
using Steward.Calls;

namespace Steward.Providers;

/// <summary>
/// Builds the governed <see cref="IChatClient"/> pipeline for a resolved provider, so every model call Steward makes
/// (an agent's turns and tool loop, a judge, the gateway) goes through the same layers, outermost first: budget
/// (reserve the call's worst case, send exactly that cap), recording (usage, cost, one model-call record), the
/// response cache when enabled, the <c>chat</c> span, then error translation into a clean <see cref="ProviderException"/>
/// around the kind's own client.
/// </summary>
public sealed class ChatClientFactory
{
    private readonly Dictionary<string, IChatClientProvider> _providers;
    private readonly ProviderCatalog _catalog;
    private readonly IServiceProvider _services;
    private readonly Telemetry.TelemetryOptions _telemetry;
    private readonly IDistributedCache? _cache;

    public ChatClientFactory(
        IEnumerable<IChatClientProvider> providers, ProviderCatalog catalog, IServiceProvider services, IOptions<ResponseCacheOptions>? cacheOptions = null,
        IDistributedCache? cache = null, IOptions<Telemetry.TelemetryOptions>? telemetry = null)
    {
        var cacheSettings = cacheOptions?.Value ?? new ResponseCacheOptions();
        _cache = cacheSettings.Enabled && cache is not null ? new ExpiringDistributedCache(cache, cacheSettings.Duration) : null;
        _telemetry = telemetry?.Value ?? new Telemetry.TelemetryOptions { Enabled = false };
        // The last registration of a kind wins, so an application can replace a built-in factory.
        _providers = new Dictionary<string, IChatClientProvider>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers)
        {
            _providers[provider.Kind] = provider;
        }

        _catalog = catalog;
        _services = services;
    }

    /// <summary>
    /// Whether calls are governed (budget and recording layers). Always on in the product; the benchmark turns it off
    /// to measure what the layers add.
    /// </summary>
    internal bool Governed { get; init; } = true;

    /// <summary>Wraps the whole pipeline (the benchmark times the governed layers from outside with it).</summary>
    internal Func<IChatClient, IChatClient>? Outermost { get; init; }

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
        if (Governed)
        {
            builder.UseBudgets(provider).UseCallRecording(provider);
        }

        // A provider that keeps the conversation on its side must see every turn: a cached answer would leave it out.
        if (_cache is not null && !provider.Info.ReceivesAgentContext)
        {
            builder.Use(inner => new MarkingCachingChatClient(inner, _cache));
        }

        if (_telemetry.Enabled)
        {
            // Below the function-invoking loop of the agent, so a tool loop's calls are separate chat spans and its tools'
            // execute_tool spans sit beside them; content only when the operator opts in. No logger: Steward logs
            // failures itself, once, where they are classified.
            builder.Use(inner => new OpenTelemetryChatClient(inner, logger: null, Telemetry.StewardTelemetry.ChatSourceName)
            {
                EnableSensitiveData = _telemetry.CaptureMessageContent,
            });
        }

        var client = builder.UseProviderErrors(provider, _catalog.Secrets().ToArray()).Build(_services);
        return Outermost is { } wrap ? wrap(client) : client;
    }
}
