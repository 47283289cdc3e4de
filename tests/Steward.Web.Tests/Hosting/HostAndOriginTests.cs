using System.Net;
using System.Net.WebSockets;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Hosting;

/// <summary>The app started as a process: other hosts get 400, other origins cannot open the live connection or change state.</summary>
public sealed class HostAndOriginTests(HostingApp app) : IClassFixture<HostingApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:80")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task ForeignHost_400(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = host;

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("steward.internal.example")]
    public async Task LoopbackOrConfiguredHost_Answered(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        request.Headers.Host = $"{host}:{app.Port}";

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Hub_WebSocketFromForeignOrigin_403()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "http://evil.example");
        socket.Options.CollectHttpResponseDetails = true;

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri(app.WebSocketUrl + "/_blazor"), Ct));

        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Hub_WebSocketFromItsOwnOrigin_Opens()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", app.Process.BaseUrl);

        await socket.ConnectAsync(new Uri(app.WebSocketUrl + "/_blazor"), Ct);

        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, Ct);
    }

    [Theory]
    [InlineData("http://evil.example", HttpStatusCode.Forbidden)]
    [InlineData("null", HttpStatusCode.Forbidden)]
    [InlineData("http://localhost.evil.example", HttpStatusCode.Forbidden)]
    [InlineData("https://trusted.example", HttpStatusCode.OK)]
    [InlineData(null, HttpStatusCode.OK)]
    public async Task HubNegotiate_ByOrigin(string? origin, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task HubNegotiate_OwnOrigin_200()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", app.Process.BaseUrl);

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task StateChangingRequestFromForeignOrigin_403NamingTheSetting(string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/api/sessions/" + Guid.NewGuid());
        request.Headers.Add("Origin", "http://evil.example");

        using var response = await app.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Steward:Web:AllowedOrigins", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
