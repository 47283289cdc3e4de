using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>
/// Creates chat clients for one provider kind and describes the kind (<see cref="Info"/>). Implement it and register it as
/// an <see cref="IChatClientProvider"/> singleton to add a provider kind; the last registration of a kind wins.
/// </summary>
public interface IChatClientProvider
{
    /// <summary>The kind this factory serves, e.g. <c>openai</c>.</summary>
    string Kind { get; }

    /// <summary>Creates a client for the resolved provider and model. Called once per agent, not per request.</summary>
    IChatClient CreateClient(ResolvedProvider provider);

    /// <summary>
    /// What Steward knows about the kind (default model and endpoint, validation, tokenizer, pricing, error reading).
    /// Defaults to the built-in kind of the same name, so a replacement factory for a built-in kind keeps its knowledge;
    /// a new kind overrides it.
    /// </summary>
    ProviderKindInfo Info => BuiltInProviders.Describe(Kind);
}
