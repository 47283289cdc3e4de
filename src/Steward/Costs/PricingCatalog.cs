using Microsoft.Extensions.Options;

namespace Steward.Costs;

/// <summary>
/// Every known price: the shipped catalog (or the file named by <c>Steward:Pricing:File</c>) with the configured
/// models, patterns and aliases on top. Built and checked once; immutable and thread-safe afterwards.
/// </summary>
/// <remarks>
/// A name is resolved as: configured alias → exact model id (case-insensitive) → configured patterns → the
/// file's patterns, most specific first within each list. Patterns are tried on the whole name and then on the
/// part after the last <c>/</c> (so <c>Qwen/Qwen2.5-7B-Instruct</c> is matched by <c>qwen*</c>).
/// </remarks>
public sealed class PricingCatalog
{
    private readonly Dictionary<string, ModelPrice> _models;
    private readonly IReadOnlyList<GlobPattern> _configuredPatterns;
    private readonly IReadOnlyList<GlobPattern> _filePatterns;
    private readonly Dictionary<string, string> _aliases;

    /// <summary>Builds the catalog from the bound <c>Steward:Pricing</c> options.</summary>
    /// <exception cref="PricingCatalogException">The prices file or a configured price is invalid.</exception>
    public PricingCatalog(IOptions<PricingOptions> options)
        : this(options?.Value ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Builds the catalog from <paramref name="options"/>.</summary>
    /// <exception cref="PricingCatalogException">The prices file or a configured price is invalid.</exception>
    public PricingCatalog(PricingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var content = options.File is { Length: > 0 } file ? PricesFile.LoadFile(file) : PricesFile.LoadEmbedded();
        Source = options.File is { Length: > 0 } f ? f : PricesFile.EmbeddedDisplayName;

        _models = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in content.Models)
        {
            _models[model.Model] = model;
        }

        var problems = new List<string>();
        foreach (var (id, price) in options.Models)
        {
            var before = problems.Count;
            var rates = PricesFile.CheckRates(id, " (Steward:Pricing:Models)", price.SelfHosted, price.Input, price.CachedInput, price.Output, price.Reasoning, problems);
            var tiers = PricesFile.CheckTiers(id, price.SelfHosted,
                price.Tiers.Select(t => (t.AboveInputTokens, t.Input, t.CachedInput, t.Output, t.Reasoning)), problems);
            if (rates is not null && problems.Count == before)
            {
                _models[id] = new ModelPrice(id, rates, tiers, price.SelfHosted, EffectiveDate: null, "configuration");
            }
        }

        _filePatterns = GlobPattern.MostSpecificFirst(content.Patterns.Select((p, i) => new GlobPattern(p.Pattern, p.Model, i)));
        var configured = new List<GlobPattern>();
        for (var i = 0; i < options.Patterns.Count; i++)
        {
            var p = options.Patterns[i];
            if (string.IsNullOrWhiteSpace(p.Pattern) || string.IsNullOrWhiteSpace(p.Model))
            {
                problems.Add($"Steward:Pricing:Patterns:{i}: Pattern and Model are both required.");
            }
            else if (!_models.ContainsKey(p.Model))
            {
                problems.Add($"Steward:Pricing:Patterns:{i}: pattern '{p.Pattern}' names model '{p.Model}', which has no price.");
            }
            else
            {
                configured.Add(new GlobPattern(p.Pattern, p.Model, i));
            }
        }

        _configuredPatterns = GlobPattern.MostSpecificFirst(configured);
        _aliases = new Dictionary<string, string>(options.Aliases, StringComparer.OrdinalIgnoreCase);
        foreach (var (alias, target) in _aliases)
        {
            if (string.IsNullOrWhiteSpace(target) || FindByName(target) is null)
            {
                problems.Add($"Steward:Pricing:Aliases:{alias}: model '{target}' has no price.");
            }
        }

        if (problems.Count > 0)
        {
            throw new PricingCatalogException($"Pricing configuration has {problems.Count} problem(s): {string.Join(" ", problems)}");
        }
    }

    /// <summary>The prices file in use: its path, or the shipped catalog's name.</summary>
    public string Source { get; }

    /// <summary>Every priced model (file and configuration), by id.</summary>
    public IReadOnlyCollection<ModelPrice> Models => _models.Values;

    /// <summary>
    /// The price of the first of <paramref name="names"/> that resolves (typically the provider-reported model
    /// first, then the requested model or deployment); <see langword="null"/> when none does.
    /// </summary>
    public ModelPrice? Find(params ReadOnlySpan<string?> names)
    {
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                continue;
            }

            var target = _aliases.TryGetValue(name, out var aliased) ? aliased : name;
            if (FindByName(target) is { } price)
            {
                return price;
            }
        }

        return null;
    }

    private ModelPrice? FindByName(string name)
    {
        if (_models.TryGetValue(name, out var exact))
        {
            return exact;
        }

        var slash = name.LastIndexOf('/');
        var shortName = slash >= 0 && slash < name.Length - 1 ? name[(slash + 1)..] : null;
        if (shortName is not null && _models.TryGetValue(shortName, out var exactShort))
        {
            return exactShort;
        }

        foreach (var patterns in (ReadOnlySpan<IReadOnlyList<GlobPattern>>)[_configuredPatterns, _filePatterns])
        {
            foreach (var pattern in patterns)
            {
                if (pattern.IsMatch(name) || (shortName is not null && pattern.IsMatch(shortName)))
                {
                    return _models[pattern.Model];
                }
            }
        }

        return null;
    }
}
