namespace Steward.Providers;

/// <summary>
/// The kinds the registered provider types describe (the built-in ones when none is given), and the checks every
/// provider's settings go through: the common ones, then the kind's own. Immutable; thread-safe.
/// </summary>
internal sealed class ProviderKindRegistry
{
    private readonly Dictionary<string, ProviderKindInfo> _kinds = new(StringComparer.OrdinalIgnoreCase);

    public ProviderKindRegistry(IEnumerable<IChatClientProvider>? providers)
    {
        foreach (var kind in BuiltInProviders.Kinds)
        {
            _kinds[kind] = BuiltInProviders.Describe(kind);
        }

        // The last registration of a kind wins, as in ChatClientFactory.
        foreach (var provider in providers ?? [])
        {
            _kinds[provider.Kind] = provider.Info;
        }

        DefaultOrder = [.. _kinds.Values.Where(k => k.DefaultOrder is not null).OrderBy(k => k.DefaultOrder).Select(k => k.Kind)];
    }

    /// <summary>Kinds that may be picked as the default, in the order they are tried.</summary>
    public IReadOnlyList<string> DefaultOrder { get; }

    public ProviderKindInfo? Find(string kind) => _kinds.GetValueOrDefault(kind);

    /// <summary>Every problem with one provider's settings, each naming the key to set.</summary>
    public List<string> Validate(string name, ProviderOptions options, string kind)
    {
        var problems = new List<string>();
        var prefix = $"Steward:Providers:{name}";
        if (Find(kind) is not { } info)
        {
            problems.Add($"{prefix}:Kind '{kind}' is not a provider kind; use one of {string.Join(", ", DefaultOrder.Concat(_kinds.Keys.Except(DefaultOrder)))}.");
            return problems;
        }

        if (options.Endpoint is { Length: > 0 } endpoint &&
            (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            problems.Add($"{prefix}:Endpoint '{Net.UrlRedaction.Strip(endpoint)}' is not an http(s) URL.");
        }

        if (options.Model is { Length: > 0 } configuredModel && ModelNames.Problem(configuredModel) is { } modelProblem)
        {
            problems.Add($"{prefix}:Model '{ModelNames.Shown(configuredModel)}' {modelProblem}.");
        }

        problems.AddRange(info.Validate?.Invoke(name, prefix, options) ?? []);

        if (options.TimeoutSeconds <= 0)
        {
            problems.Add($"{prefix}:TimeoutSeconds must be greater than zero.");
        }

        if (options.MaxRetries < 0)
        {
            problems.Add($"{prefix}:MaxRetries must be zero or more.");
        }

        return problems;
    }
}
