using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Steward.Providers;

/// <summary>
/// The provider kinds Steward ships, each one line: its description (kept on its provider type) and how its factory is
/// registered. The engine registers them all; a <see cref="ResolvedProvider"/> built without the catalog finds its kind's
/// description here.
/// </summary>
public static class BuiltInProviders
{
    private static readonly (ProviderKindInfo Info, Action<IServiceCollection> Register)[] Entries =
    [
        (FoundryAgentChatClientProvider.Description, s =>
        {
            s.AddSingleton<Foundry.FoundryAgentVersions>();
            s.AddSingleton<Sessions.SessionConversationStore>();
            s.AddSingleton(sp => new Foundry.FoundryAgents(sp.GetRequiredService<ProviderCatalog>(), sp.GetRequiredService<Agents.PresetCatalog>(),
                sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Storage.StewardDbContext>>(), sp.GetRequiredService<TimeProvider>()));
            s.AddSingleton<IChatClientProvider, FoundryAgentChatClientProvider>();
        }),
        (AzureOpenAIChatClientProvider.Description, s => s.AddSingleton<IChatClientProvider, AzureOpenAIChatClientProvider>()),
        (OpenAIChatClientProvider.OpenAIDescription, s => s.AddSingleton<IChatClientProvider>(new OpenAIChatClientProvider(ProviderKinds.OpenAI))),
        (OllamaChatClientProvider.Description, s => s.AddSingleton<IChatClientProvider, OllamaChatClientProvider>()),
        (OpenAIChatClientProvider.CompatibleDescription, s => s.AddSingleton<IChatClientProvider>(new OpenAIChatClientProvider(ProviderKinds.OpenAICompatible))),
        // An application (or a test) may have registered its own engine already: the embedded one is only added if not.
        (LocalChatClientProvider.Description, s => s.TryAddEnumerable(ServiceDescriptor.Singleton<IChatClientProvider, LocalChatClientProvider>())),
    ];

    private static readonly Dictionary<string, ProviderKindInfo> ByKind =
        Entries.ToDictionary(e => e.Info.Kind, e => e.Info, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every built-in kind, in the order a default is chosen.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        [.. Entries.Select(e => e.Info).Where(i => i.DefaultOrder is not null).OrderBy(i => i.DefaultOrder).Select(i => i.Kind)];

    /// <summary>The built-in description of <paramref name="kind"/>, or an <see cref="ProviderKindInfo.Unknown"/> one.</summary>
    public static ProviderKindInfo Describe(string kind) =>
        ByKind.TryGetValue(kind, out var info) ? info : ProviderKindInfo.Unknown(kind);

    internal static void Register(IServiceCollection services)
    {
        foreach (var (_, register) in Entries)
        {
            register(services);
        }
    }
}
