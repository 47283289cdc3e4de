using System.Net;
using Azure.Core;
using Microsoft.Extensions.Time.Testing;
using Steward.Providers.Foundry;

namespace Steward.Tests.Providers;

/// <summary>How requests to a Foundry project are signed: the project key, or an Entra ID token for https://ai.azure.com.</summary>
public sealed class FoundryAuthHandlerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class CountingCredential(FakeTimeProvider time) : TokenCredential
    {
        public List<string[]> Requests { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new NotSupportedException("The handler asks asynchronously.");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Requests.Add(requestContext.Scopes);
            return ValueTask.FromResult(new AccessToken($"token-{Requests.Count}", time.GetUtcNow().AddHours(1)));
        }
    }

    private sealed class Recorder : HttpMessageHandler
    {
        public List<HttpRequestMessage> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add(request);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }

    [Fact]
    public async Task SendAsync_NoKey_SendsAnAiAzureComTokenAndReusesItUntilFiveMinutesBeforeExpiry()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var credential = new CountingCredential(time);
        var recorder = new Recorder();
        using var http = new HttpClient(new FoundryAuthHandler(apiKey: null, credential, time, recorder));

        using var request = new HttpRequestMessage(HttpMethod.Get, "https://x.services.ai.azure.com/api/projects/p/agents?api-version=v1");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sdk-placeholder");
        (await http.SendAsync(request, Ct)).Dispose();
        time.Advance(TimeSpan.FromMinutes(54));
        (await http.GetAsync(new Uri("https://x.services.ai.azure.com/api/projects/p/agents?api-version=v1"), Ct)).Dispose();
        time.Advance(TimeSpan.FromMinutes(2)); // now 4 minutes before expiry: refreshed
        (await http.GetAsync(new Uri("https://x.services.ai.azure.com/api/projects/p/agents?api-version=v1"), Ct)).Dispose();

        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], recorder.Seen.Select(r => r.Headers.Authorization!.ToString()));
        Assert.All(credential.Requests, scopes => Assert.Equal(["https://ai.azure.com/.default"], scopes));
        Assert.All(recorder.Seen, r => Assert.False(r.Headers.Contains("api-key")));
    }

    [Fact]
    public async Task SendAsync_Key_SendsItAsApiKeyAndDropsTheSdksBearerHeader()
    {
        var recorder = new Recorder();
        using var http = new HttpClient(new FoundryAuthHandler("project-key", credential: null, TimeProvider.System, recorder));
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://x.services.ai.azure.com/api/projects/p/openai/v1/responses");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sdk-placeholder");

        (await http.SendAsync(request, Ct)).Dispose();

        var sent = Assert.Single(recorder.Seen);
        Assert.Null(sent.Headers.Authorization);
        Assert.Equal("project-key", Assert.Single(sent.Headers.GetValues("api-key")));
    }
}
