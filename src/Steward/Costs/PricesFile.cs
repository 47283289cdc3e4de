using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Steward.Costs;

/// <summary>
/// Reads and checks a prices file (<c>pricing/prices.json</c> format, <c>schema_version</c> 1): every problem is
/// collected and reported together, each naming the model at fault.
/// </summary>
internal static class PricesFile
{
    public const int SchemaVersion = 1;

    /// <summary>The logical name of the shipped catalog inside Steward.dll.</summary>
    public const string EmbeddedResourceName = "Steward.Pricing.prices.json";

    /// <summary>How the shipped catalog is named in messages.</summary>
    public const string EmbeddedDisplayName = "pricing/prices.json (shipped)";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    public sealed record Content(IReadOnlyList<ModelPrice> Models, IReadOnlyList<(string Pattern, string Model)> Patterns);

    public static Content LoadEmbedded()
    {
        using var stream = typeof(PricesFile).Assembly.GetManifestResourceStream(EmbeddedResourceName)
            ?? throw new PricingCatalogException($"The shipped prices ({EmbeddedResourceName}) are missing from Steward.dll.");
        return Parse(stream, EmbeddedDisplayName);
    }

    public static Content LoadFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return Parse(stream, path);
        }
        catch (IOException ex)
        {
            throw new PricingCatalogException($"Prices file '{path}' could not be read: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PricingCatalogException($"Prices file '{path}' could not be read: {ex.Message}", ex);
        }
    }

    public static Content Parse(Stream stream, string name)
    {
        FileDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize<FileDto>(stream, JsonOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is null ? "" : $" at {ex.Path}";
            throw new PricingCatalogException($"Prices file '{name}' is not valid{where}: {ex.Message}", ex);
        }

        if (dto is null)
        {
            throw new PricingCatalogException($"Prices file '{name}' is empty.");
        }

        var problems = new List<string>();
        if (dto.SchemaVersion != SchemaVersion)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"schema_version must be {SchemaVersion} (was {(dto.SchemaVersion is { } v ? v.ToString(CultureInfo.InvariantCulture) : "missing")})."));
        }

        if (dto.Currency is { } currency && !string.Equals(currency, "USD", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"currency must be USD (was '{currency}').");
        }

        var models = new List<ModelPrice>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var entries = dto.Models ?? [];
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (string.IsNullOrWhiteSpace(entry.Model))
            {
                problems.Add($"models[{i}]: 'model' is required.");
                continue;
            }

            var before = problems.Count;
            if (!seen.Add(entry.Model))
            {
                problems.Add($"model '{entry.Model}': listed more than once.");
            }

            var rates = CheckRates(entry.Model, "", entry.SelfHosted, entry.Input, entry.CachedInput, entry.Output, entry.Reasoning, problems);
            DateOnly? effective = null;
            if (string.IsNullOrWhiteSpace(entry.EffectiveDate))
            {
                problems.Add($"model '{entry.Model}': 'effective_date' is required (yyyy-MM-dd).");
            }
            else if (DateOnly.TryParseExact(entry.EffectiveDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                effective = date;
            }
            else
            {
                problems.Add($"model '{entry.Model}': 'effective_date' must be a date as yyyy-MM-dd (was '{entry.EffectiveDate}').");
            }

            var tiers = CheckTiers(entry.Model, entry.SelfHosted,
                (entry.Tiers ?? []).Select(t => (t.AboveInputTokens, t.Input, t.CachedInput, t.Output, t.Reasoning)), problems);
            if (problems.Count == before)
            {
                models.Add(new ModelPrice(entry.Model, rates ?? PriceRates.Free, tiers, entry.SelfHosted, effective, name));
            }
        }

        var patterns = new List<(string, string)>();
        var patternEntries = dto.Patterns ?? [];
        for (var i = 0; i < patternEntries.Count; i++)
        {
            var p = patternEntries[i];
            if (string.IsNullOrWhiteSpace(p.Pattern) || string.IsNullOrWhiteSpace(p.Model))
            {
                problems.Add($"patterns[{i}]: 'pattern' and 'model' are both required.");
            }
            else if (!seen.Contains(p.Model))
            {
                problems.Add($"pattern '{p.Pattern}': model '{p.Model}' is not listed in 'models'.");
            }
            else
            {
                patterns.Add((p.Pattern, p.Model));
            }
        }

        if (problems.Count > 0)
        {
            throw new PricingCatalogException($"Prices file '{name}' has {problems.Count} problem(s): {string.Join(" ", problems)}");
        }

        return new Content(models, patterns);
    }

    /// <summary>Checks a model's tiers: positive thresholds that grow from tier to tier, each with its own rates.</summary>
    internal static IReadOnlyList<PriceTier> CheckTiers(
        string model, bool selfHosted,
        IEnumerable<(long? AboveInputTokens, decimal? Input, decimal? CachedInput, decimal? Output, decimal? Reasoning)> entries, List<string> problems)
    {
        var tiers = new List<PriceTier>();
        long previous = 0;
        foreach (var tier in entries)
        {
            var label = string.Create(CultureInfo.InvariantCulture, $" tier above {tier.AboveInputTokens?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
            if (selfHosted)
            {
                problems.Add($"model '{model}': a self-hosted model has no tiers.");
                break;
            }

            if (tier.AboveInputTokens is not { } above || above <= previous)
            {
                problems.Add($"model '{model}'{label}: 'above_input_tokens' is required, positive, and must grow from tier to tier.");
            }

            var rates = CheckRates(model, label, false, tier.Input, tier.CachedInput, tier.Output, tier.Reasoning, problems);
            previous = Math.Max(previous, tier.AboveInputTokens ?? 0);
            if (rates is not null && tier.AboveInputTokens is { } threshold)
            {
                tiers.Add(new PriceTier(threshold, rates));
            }
        }

        return tiers;
    }

    /// <summary>Checks one set of rates; <see langword="null"/> when a required rate is missing.</summary>
    internal static PriceRates? CheckRates(
        string model, string label, bool selfHosted, decimal? input, decimal? cached, decimal? output, decimal? reasoning, List<string> problems)
    {
        foreach (var (field, value) in new[] { ("input", input), ("cached_input", cached), ("output", output), ("reasoning", reasoning) })
        {
            if (value < 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"model '{model}'{label}: '{field}' must not be negative (was {value})."));
            }
            else if (selfHosted && value > 0)
            {
                problems.Add($"model '{model}'{label}: a self-hosted model costs nothing; remove '{field}' or 'self_hosted'.");
            }
        }

        if (selfHosted)
        {
            return PriceRates.Free;
        }

        if (input is null)
        {
            problems.Add($"model '{model}'{label}: 'input' is required (USD per 1M tokens), or set 'self_hosted': true.");
        }

        if (output is null)
        {
            problems.Add($"model '{model}'{label}: 'output' is required (USD per 1M tokens), or set 'self_hosted': true.");
        }

        return input is { } i && output is { } o ? new PriceRates(i, cached, o, reasoning) : null;
    }

    private sealed class FileDto
    {
        public int? SchemaVersion { get; set; }
        public string? Currency { get; set; }
        public string? Unit { get; set; }
        public string? Source { get; set; }
        public List<ModelDto>? Models { get; set; }
        public List<PatternDto>? Patterns { get; set; }
    }

    private sealed class ModelDto
    {
        public string? Model { get; set; }
        public decimal? Input { get; set; }
        public decimal? CachedInput { get; set; }
        public decimal? Output { get; set; }
        public decimal? Reasoning { get; set; }
        public bool SelfHosted { get; set; }
        public string? EffectiveDate { get; set; }
        public string? Notes { get; set; }
        public List<TierDto>? Tiers { get; set; }
    }

    private sealed class TierDto
    {
        public long? AboveInputTokens { get; set; }
        public decimal? Input { get; set; }
        public decimal? CachedInput { get; set; }
        public decimal? Output { get; set; }
        public decimal? Reasoning { get; set; }
    }

    private sealed class PatternDto
    {
        public string? Pattern { get; set; }
        public string? Model { get; set; }
    }
}
