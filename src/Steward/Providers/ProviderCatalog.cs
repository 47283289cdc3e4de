using Microsoft.Extensions.Options;

namespace Steward.Providers;

/// <summary>
/// The configured providers, and the rules that pick one for a preset: the preset's own provider and model if it
/// names them, else the default provider and its default model. Thread-safe (immutable after construction).
/// </summary>
public sealed class ProviderCatalog
{
    internal const string DefaultOpenAIModel = "gpt-4o-mini";
    internal const string DefaultLocalModel = "smollm2-360m";

    private readonly Dictionary<string, ProviderOptions> _providers;

    public ProviderCatalog(IOptions<ProvidersOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _providers = new Dictionary<string, ProviderOptions>(options.Value.Providers, StringComparer.OrdinalIgnoreCase);

        // The embedded engine is always there, so a fresh machine has a provider.
        if (!_providers.ContainsKey(ProviderKinds.Local))
        {
            _providers[ProviderKinds.Local] = new ProviderOptions { Kind = ProviderKinds.Local };
        }

        DefaultProviderName = options.Value.DefaultProvider is { Length: > 0 } configured
            ? configured
            : ProviderKinds.All.Select(kind => _providers.FirstOrDefault(p => KindOf(p.Key, p.Value) == kind).Key)
                .First(name => name is not null)!;
    }

    /// <summary>The provider used when a preset names none.</summary>
    public string DefaultProviderName { get; }

    /// <summary>Names and kinds of every provider, for listings. Carries no secrets (credentials in an endpoint are left out).</summary>
    public IReadOnlyList<(string Name, string Kind, string? Model, string? Endpoint)> List() =>
        _providers.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => (p.Key, KindOf(p.Key, p.Value), p.Value.Model, Net.UrlRedaction.Strip(p.Value.Endpoint))).ToArray();

    /// <summary>
    /// Every API key configured anywhere, and every user name and password written into an endpoint, so error messages
    /// and exports can be scrubbed of them.
    /// </summary>
    internal IEnumerable<string> Secrets() =>
        _providers.Values.Select(p => p.ApiKey).Where(k => !string.IsNullOrEmpty(k))
            .Concat(_providers.Values.SelectMany(p => Net.UrlRedaction.Credentials(p.Endpoint)))!;

    /// <summary>Picks the provider and model for a request.</summary>
    /// <exception cref="ProviderNotConfiguredException">The provider is unknown or lacks a required setting.</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> is not a model name (see <see cref="ModelNames"/>).</exception>
    public ResolvedProvider Resolve(string? providerName, string? model)
    {
        var name = string.IsNullOrWhiteSpace(providerName) ? DefaultProviderName : providerName.Trim();
        if (!_providers.TryGetValue(name, out var options))
        {
            throw new ProviderNotConfiguredException(
                $"Provider '{name}' is not configured. Configured: {string.Join(", ", _providers.Keys.Order(StringComparer.Ordinal))}. " +
                $"Add it under Steward:Providers:{name} (Kind, Endpoint, ApiKey, Model) or use an environment shortcut such as OPENAI_API_KEY.");
        }

        var kind = KindOf(name, options);
        var problems = Validate(name, options, kind);
        if (problems.Count > 0)
        {
            throw new ProviderNotConfiguredException(string.Join(" ", problems));
        }

        if (!string.IsNullOrWhiteSpace(model) && ModelNames.Problem(model.Trim()) is { } problem)
        {
#pragma warning disable CA2208 // The message names the model; a "(Parameter 'model')" suffix would only clutter the one line users see.
            throw new ArgumentException($"model '{ModelNames.Shown(model.Trim())}' {problem}.");
#pragma warning restore CA2208
        }

        var chosenModel = !string.IsNullOrWhiteSpace(model) ? model.Trim()
            : !string.IsNullOrWhiteSpace(options.Model) ? options.Model.Trim()
            : kind switch
            {
                ProviderKinds.OpenAI => DefaultOpenAIModel,
                ProviderKinds.Local => DefaultLocalModel,
                _ => throw new ProviderNotConfiguredException(
                    $"Provider '{name}' ({kind}) has no model. Set Steward:Providers:{name}:Model" +
                    (kind == ProviderKinds.AzureOpenAI ? " (the deployment name) or AZURE_OPENAI_DEPLOYMENT." :
                     kind == ProviderKinds.Ollama ? " (e.g. llama3.2) or OLLAMA_MODEL." : ", or name a model in the preset."))
            };

        return new ResolvedProvider(name, kind, chosenModel, options);
    }

    internal static string KindOf(string name, ProviderOptions options) =>
        (options.Kind ?? name).Trim().ToLowerInvariant();

    /// <summary>Every problem with one provider's settings, each naming the key to set.</summary>
    internal static List<string> Validate(string name, ProviderOptions options, string kind)
    {
        var problems = new List<string>();
        var prefix = $"Steward:Providers:{name}";
        if (!ProviderKinds.All.Contains(kind))
        {
            problems.Add($"{prefix}:Kind '{kind}' is not a provider kind; use one of {string.Join(", ", ProviderKinds.All)}.");
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

        switch (kind)
        {
            case ProviderKinds.OpenAI when string.IsNullOrWhiteSpace(options.ApiKey):
                problems.Add($"Provider '{name}' (openai) has no API key: set OPENAI_API_KEY or {prefix}:ApiKey.");
                break;
            case ProviderKinds.OpenAI when options.Api is { Length: > 0 } api && api is not ("chat" or "responses"):
                problems.Add($"{prefix}:Api '{api}' must be 'chat' or 'responses'.");
                break;
            case ProviderKinds.AzureOpenAI when string.IsNullOrWhiteSpace(options.Endpoint):
                problems.Add($"Provider '{name}' (azure-openai) has no endpoint: set AZURE_OPENAI_ENDPOINT or {prefix}:Endpoint.");
                break;
            case ProviderKinds.OpenAICompatible when string.IsNullOrWhiteSpace(options.Endpoint):
                problems.Add($"Provider '{name}' (openai-compatible) has no endpoint: set {prefix}:Endpoint to the server's /v1 URL.");
                break;
        }

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

/// <summary>Validates every configured provider at start and reports all problems together.</summary>
internal sealed class ProvidersOptionsValidator : IValidateOptions<ProvidersOptions>
{
    public ValidateOptionsResult Validate(string? name, ProvidersOptions options)
    {
        var problems = options.Providers
            .SelectMany(p => ProviderCatalog.Validate(p.Key, p.Value, ProviderCatalog.KindOf(p.Key, p.Value)))
            .ToList();
        if (options.DefaultProvider is { Length: > 0 } def && !options.Providers.ContainsKey(def) &&
            !string.Equals(def, ProviderKinds.Local, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Steward:DefaultProvider '{def}' is not configured under Steward:Providers.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
