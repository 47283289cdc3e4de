using Microsoft.Extensions.Options;

namespace Steward.Providers;

/// <summary>
/// The configured providers, and the rules that pick one for a preset: the preset's own provider and model if it
/// names them, else the default provider and its default model. Thread-safe (immutable after construction).
/// </summary>
public sealed class ProviderCatalog
{
    private readonly Dictionary<string, ProviderOptions> _providers;
    private readonly ProviderKindRegistry _kinds;

    /// <param name="options">The configured providers.</param>
    /// <param name="providers">The registered provider types, whose <see cref="IChatClientProvider.Info"/> describes each kind;
    /// without them, the built-in kinds.</param>
    public ProviderCatalog(IOptions<ProvidersOptions> options, IEnumerable<IChatClientProvider>? providers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _kinds = new ProviderKindRegistry(providers);
        _providers = new Dictionary<string, ProviderOptions>(options.Value.Providers, StringComparer.OrdinalIgnoreCase);

        // The embedded engine is always there, so a fresh machine has a provider.
        if (!_providers.ContainsKey(ProviderKinds.Local))
        {
            _providers[ProviderKinds.Local] = new ProviderOptions { Kind = ProviderKinds.Local };
        }

        DefaultProviderName = options.Value.DefaultProvider is { Length: > 0 } configured
            ? configured
            : _kinds.DefaultOrder.Select(kind => _providers.FirstOrDefault(p => KindOf(p.Key, p.Value) == kind).Key)
                .First(name => name is not null)!;
    }

    /// <summary>The provider used when a preset names none.</summary>
    public string DefaultProviderName { get; }

    /// <summary>Names and kinds of every provider, for listings. Carries no secrets (credentials in an endpoint are left out).</summary>
    // Built once: the catalog does not change, and the gateway looks a request's provider up in it on every request
    // (redacting each endpoint with a regular expression every time showed in the gateway benchmark's profile).
    public IReadOnlyList<(string Name, string Kind, string? Model, string? Endpoint)> List() =>
        _listing ??= Array.AsReadOnly(_providers.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => (p.Key, KindOf(p.Key, p.Value), p.Value.Model, Net.UrlRedaction.Strip(p.Value.Endpoint))).ToArray());

    private IReadOnlyList<(string Name, string Kind, string? Model, string? Endpoint)>? _listing;

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
        var problems = _kinds.Validate(name, options, kind);
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

        var info = _kinds.Find(kind)!;
        if (!string.IsNullOrWhiteSpace(model) && options.Model is { Length: > 0 } configured
            && !string.Equals(configured.Trim(), model.Trim(), StringComparison.Ordinal)
            && string.Equals(Telemetry.StewardTelemetry.ModelName(configured.Trim()), model.Trim(), StringComparison.Ordinal))
        {
            // A model file is shown by its name (GET /v1/models, the API, History); that name asks for the file configured.
            model = configured;
        }

        var chosenModel = !string.IsNullOrWhiteSpace(model) ? model.Trim()
            : !string.IsNullOrWhiteSpace(options.Model) ? options.Model.Trim()
            : info.DefaultModel ?? throw new ProviderNotConfiguredException(
                $"Provider '{name}' ({kind}) has no model. Set Steward:Providers:{name}:Model{info.ModelAdvice}");

        return new ResolvedProvider(name, kind, chosenModel, options) { Info = info };
    }

    internal static string KindOf(string name, ProviderOptions options) =>
        (options.Kind ?? name).Trim().ToLowerInvariant();
}

/// <summary>Validates every configured provider at start and reports all problems together.</summary>
internal sealed class ProvidersOptionsValidator(IEnumerable<IChatClientProvider>? providers = null) : IValidateOptions<ProvidersOptions>
{
    private readonly ProviderKindRegistry _kinds = new(providers);

    public ValidateOptionsResult Validate(string? name, ProvidersOptions options)
    {
        var problems = options.Providers
            .SelectMany(p => _kinds.Validate(p.Key, p.Value, ProviderCatalog.KindOf(p.Key, p.Value)))
            .ToList();
        if (options.DefaultProvider is { Length: > 0 } def && !options.Providers.ContainsKey(def) &&
            !string.Equals(def, ProviderKinds.Local, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Steward:DefaultProvider '{def}' is not configured under Steward:Providers.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
