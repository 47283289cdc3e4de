using System.Globalization;
using Microsoft.Extensions.Options;

namespace Steward.Costs;

/// <summary>
/// Prices, bound from <c>Steward:Pricing</c>. The shipped catalog (<c>pricing/prices.json</c>, embedded in Steward)
/// is always there; these settings replace it or add to it.
/// </summary>
public sealed class PricingOptions
{
    /// <summary>A prices file to use instead of the shipped one (same format). Default: the shipped catalog.</summary>
    public string? File { get; set; }

    /// <summary>
    /// Prices by model id (USD per 1M tokens). A configured model replaces the catalog's entry of the same id
    /// (case-insensitive) as a whole.
    /// </summary>
    public Dictionary<string, ModelPriceOptions> Models { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Model-id patterns (<c>*</c> any run of characters, <c>?</c> one) mapped to a priced model. They are tried
    /// before the catalog's patterns, most specific first.
    /// </summary>
    public List<PricePatternOptions> Patterns { get; } = [];

    /// <summary>
    /// Names that are not model ids mapped to one: e.g. an Azure OpenAI deployment (<c>gpt-4o-prod</c>) to the
    /// model it serves (<c>gpt-4o</c>).
    /// </summary>
    public Dictionary<string, string> Aliases { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One model's configured price, USD per 1M tokens.</summary>
public sealed class ModelPriceOptions
{
    /// <summary>Input (prompt) tokens not read from the provider's cache. Required unless <see cref="SelfHosted"/>.</summary>
    public decimal? Input { get; set; }

    /// <summary>Input tokens read from the provider's prompt cache. Default: the input rate.</summary>
    public decimal? CachedInput { get; set; }

    /// <summary>Output tokens. Required unless <see cref="SelfHosted"/>.</summary>
    public decimal? Output { get; set; }

    /// <summary>Reasoning tokens (part of output). Default: the output rate.</summary>
    public decimal? Reasoning { get; set; }

    /// <summary>The model runs on the user's own hardware: it costs 0 and is shown as self-hosted.</summary>
    public bool SelfHosted { get; set; }

    /// <summary>Rates for requests whose input exceeds a threshold (e.g. long context), ascending thresholds.</summary>
    public List<PriceTierOptions> Tiers { get; } = [];
}

/// <summary>A configured price tier: its rates apply to every token of a request with more input tokens than <see cref="AboveInputTokens"/>.</summary>
public sealed class PriceTierOptions
{
    /// <summary>The threshold, in input tokens (exclusive).</summary>
    public long? AboveInputTokens { get; set; }

    /// <summary>Input rate, USD per 1M tokens. Required.</summary>
    public decimal? Input { get; set; }

    /// <summary>Cache-read rate. Default: the tier's input rate.</summary>
    public decimal? CachedInput { get; set; }

    /// <summary>Output rate. Required.</summary>
    public decimal? Output { get; set; }

    /// <summary>Reasoning rate. Default: the tier's output rate.</summary>
    public decimal? Reasoning { get; set; }
}

/// <summary>A configured model-id pattern.</summary>
public sealed class PricePatternOptions
{
    /// <summary>The pattern, e.g. <c>gpt-4o-mini-*</c>; case-insensitive.</summary>
    public string? Pattern { get; set; }

    /// <summary>The priced model ids matching the pattern are priced as.</summary>
    public string? Model { get; set; }
}

/// <summary>
/// Checks <see cref="PricingOptions"/> and reports every problem together: the settings themselves, then the prices
/// file and the models that patterns and aliases name.
/// </summary>
internal sealed class PricingOptionsValidator : IValidateOptions<PricingOptions>
{
    public ValidateOptionsResult Validate(string? name, PricingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.File is { } file && !System.IO.File.Exists(file))
        {
            problems.Add($"Steward:Pricing:File: the prices file '{file}' does not exist.");
        }

        foreach (var (model, price) in options.Models)
        {
            var prefix = $"Steward:Pricing:Models:{model}";
            if (price is null)
            {
                problems.Add($"{prefix}: no price given.");
                continue;
            }

            if (!price.SelfHosted && price.Input is null)
            {
                problems.Add($"{prefix}:Input is required (or set SelfHosted to true).");
            }

            if (!price.SelfHosted && price.Output is null)
            {
                problems.Add($"{prefix}:Output is required (or set SelfHosted to true).");
            }

            foreach (var (field, value) in new[] { ("Input", price.Input), ("CachedInput", price.CachedInput), ("Output", price.Output), ("Reasoning", price.Reasoning) })
            {
                if (value < 0)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}:{field} must not be negative (was {value})."));
                }
            }
        }

        for (var i = 0; i < options.Patterns.Count; i++)
        {
            var pattern = options.Patterns[i];
            if (string.IsNullOrWhiteSpace(pattern?.Pattern))
            {
                problems.Add($"Steward:Pricing:Patterns:{i}:Pattern is required.");
            }

            if (string.IsNullOrWhiteSpace(pattern?.Model))
            {
                problems.Add($"Steward:Pricing:Patterns:{i}:Model is required.");
            }
        }

        foreach (var (alias, model) in options.Aliases)
        {
            if (string.IsNullOrWhiteSpace(model))
            {
                problems.Add($"Steward:Pricing:Aliases:{alias} names no model.");
            }
        }

        if (problems.Count == 0)
        {
            // The rest needs the prices file (patterns and aliases must name priced models): build the catalog
            // once here so that a bad file or reference stops start-up, not the first run.
            try
            {
                _ = new PricingCatalog(options);
            }
            catch (PricingCatalogException ex)
            {
                problems.Add(ex.Message);
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
