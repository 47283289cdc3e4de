using Steward.LocalModels.Models;

namespace Steward.Providers;

/// <summary>
/// Whether the default provider can answer at all, checked without calling it: so the web app and CLI can start on a
/// fresh machine and say, in one message, how to get a model or configure a provider.
/// </summary>
public sealed class ProviderReadiness(ProviderCatalog providers, ModelStore models)
{
    /// <summary>A message saying what is missing and how to fix it, or <see langword="null"/> when the default provider is usable.</summary>
    public string? DescribeProblem()
    {
        ResolvedProvider provider;
        try
        {
            provider = providers.Resolve(null, null);
        }
        catch (ProviderNotConfiguredException ex)
        {
            return ex.Message;
        }

        if (provider.Kind != ProviderKinds.Local)
        {
            return null;
        }

        try
        {
            models.Resolve(provider.Model);
            return null;
        }
        catch (ModelNotFoundException)
        {
            return $"No model is available for the embedded engine ('{provider.Model}' is not downloaded). {LocalChatClientProvider.NoModelAdvice}";
        }
    }
}
