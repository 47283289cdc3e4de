using Microsoft.Extensions.AI;

namespace Steward.Providers;

/// <summary>Creates chat clients for one provider kind. Implement it to add a provider kind.</summary>
public interface IChatClientProvider
{
    /// <summary>The kind this factory serves, e.g. <c>openai</c>.</summary>
    string Kind { get; }

    /// <summary>Creates a client for the resolved provider and model. Called once per agent, not per request.</summary>
    IChatClient CreateClient(ResolvedProvider provider);
}
