using Steward.Agents;
using Steward.Providers;

namespace Steward.Costs;

/// <summary>The runner's pricing seam: what a run's usage cost.</summary>
public interface IRunPricer
{
    /// <summary>Prices actual usage. Returns <see cref="RunCost.Unpriced"/> for a model with no known price.</summary>
    RunCost Price(ResolvedProvider provider, RunUsage usage);
}

/// <summary>
/// Pricing until the catalog arrives: models Steward runs itself (embedded engine) or that run on the user's own
/// Ollama cost nothing and say "self-hosted"; every other model is reported unpriced, never as free.
/// </summary>
internal sealed class SelfHostedOnlyPricer : IRunPricer
{
    public RunCost Price(ResolvedProvider provider, RunUsage usage)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return provider.Kind is ProviderKinds.Local or ProviderKinds.Ollama ? new RunCost(0m, SelfHosted: true) : RunCost.Unpriced;
    }
}
