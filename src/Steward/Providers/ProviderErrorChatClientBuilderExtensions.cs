using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>Adds <see cref="ProviderErrorChatClient"/> to a chat client pipeline.</summary>
public static class ProviderErrorChatClientBuilderExtensions
{
    /// <summary>
    /// Translates every provider failure below this layer into a <see cref="ProviderException"/> whose message names
    /// <paramref name="provider"/> and contains none of <paramref name="secrets"/>.
    /// </summary>
    public static ChatClientBuilder UseProviderErrors(this ChatClientBuilder builder, ResolvedProvider provider, IReadOnlyCollection<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(secrets);
        return builder.Use(inner => new ProviderErrorChatClient(inner, provider, secrets));
    }
}
