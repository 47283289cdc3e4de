using System.Net.Http.Headers;
using Azure.Core;

namespace Steward.Providers.Foundry;

/// <summary>
/// Signs every request to a Foundry project, the agents API and the OpenAI-style <c>/openai/v1</c> routes alike: the
/// project's API key in the <c>api-key</c> header, or an Entra ID token for the <c>https://ai.azure.com</c> audience
/// (from <see cref="Azure.Identity.DefaultAzureCredential"/>: managed identity, workload identity, Azure CLI, …), reused
/// until five minutes before it expires. Thread-safe.
/// </summary>
internal sealed class FoundryAuthHandler : DelegatingHandler
{
    private static readonly TokenRequestContext Audience = new(["https://ai.azure.com/.default"]);
    private readonly string? _apiKey;
    private readonly TokenCredential? _credential;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private AccessToken? _token;

    public FoundryAuthHandler(string? apiKey, TokenCredential? credential, TimeProvider time, HttpMessageHandler inner) : base(inner)
    {
        _apiKey = apiKey;
        _credential = credential;
        _time = time;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The OpenAI SDK adds its own bearer header: the project's credential replaces it.
        request.Headers.Authorization = null;
        request.Headers.Remove("api-key");
        if (_apiKey is { Length: > 0 })
        {
            request.Headers.TryAddWithoutValidation("api-key", _apiKey);
        }
        else if (_credential is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(cancellationToken).ConfigureAwait(false));
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> TokenAsync(CancellationToken cancellationToken)
    {
        if (_token is { } cached && cached.ExpiresOn - _time.GetUtcNow() > TimeSpan.FromMinutes(5))
        {
            return cached.Token;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is not { } current || current.ExpiresOn - _time.GetUtcNow() <= TimeSpan.FromMinutes(5))
            {
                _token = await _credential!.GetTokenAsync(Audience, cancellationToken).ConfigureAwait(false);
            }

            return _token.Value.Token;
        }
        finally
        {
            _refresh.Release();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _refresh.Dispose();
        }

        base.Dispose(disposing);
    }
}
