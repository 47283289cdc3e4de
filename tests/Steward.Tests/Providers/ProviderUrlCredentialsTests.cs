using System.Net;
using System.Net.Sockets;
using System.Text;
using Steward.Agents;
using Steward.Net;
using Steward.Providers;
using Steward.Sessions;
using Steward.Telemetry;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>
/// Credentials written into a provider's URL never leave it: not in an error, a stored run, an export or a trace.
/// </summary>
public sealed class ProviderUrlCredentialsTests : IAsyncLifetime
{
    private const string User = "steward-user";
    private const string Password = "pw-s3cret-9f2c";

    private FakeModelServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await FakeModelServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("unreachable")]
    [InlineData("server error")]
    [InlineData("rejected key")]
    public async Task FailedRun_CredentialsInEndpoint_NotInErrorRunExportOrTrace(string failure)
    {
        var endpoint = failure == "unreachable"
            ? $"http://{User}:{Password}@127.0.0.1:{ClosedPort()}/v1"
            : _server.OpenAIUrl.Replace("http://", $"http://{User}:{Password}@", StringComparison.Ordinal);
        _server.Reply = _ => failure switch
        {
            "server error" => new FakeReply { Error = (500, FakeModelServer.OpenAIError($"upstream {endpoint} failed", "server_error")) },
            _ => new FakeReply { Error = (401, FakeModelServer.OpenAIError($"Bad credentials for {endpoint}", "invalid_request_error")) },
        };
        await using var engine = await TestEngine.StartAsync(_server.OpenAIUrl, s => s["Steward:Providers:fake:Endpoint"] = endpoint);

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        AssertClean(response.Error!.Message);
        if (failure == "unreachable")
        {
            Assert.Contains("http://127.0.0.1:", response.Error.Message, StringComparison.Ordinal);
        }

        var stored = await engine.Sessions.GetAsync(response.SessionId!.Value, Ct);
        AssertClean(stored.Runs[0].Error);
        AssertClean(string.Join("\n", stored.Runs[0].Events.Select(e => e.Message)));

        using (var export = new MemoryStream())
        {
            await engine.Get<SessionExporter>().WriteAsync(response.SessionId.Value, export, Ct);
            AssertClean(Encoding.UTF8.GetString(export.ToArray()));
        }

        var traces = engine.Get<TraceStore>();
        await traces.FlushAsync(Ct);
        using (var otlp = new MemoryStream())
        {
            Assert.True(await traces.ExportOtlpJsonAsync(otlp, response.RunId, Ct) > 0);
            var json = Encoding.UTF8.GetString(otlp.ToArray());
            AssertClean(json);
        }
    }

    [Fact]
    public void Validate_EndpointWithCredentialsAndWrongScheme_MessageWithoutCredentials()
    {
        var options = new ProvidersOptions();
        options.Providers["lab"] = new ProviderOptions { Kind = ProviderKinds.OpenAICompatible, Endpoint = $"ftp://{User}:{Password}@models.example/v1" };

        var failure = Assert.Single(new ProvidersOptionsValidator().Validate(null, options).Failures!);

        Assert.Equal("Steward:Providers:lab:Endpoint 'ftp://models.example/v1' is not an http(s) URL.", failure);
    }

    [Fact]
    public void List_EndpointWithCredentials_ShownWithout()
    {
        var options = new ProvidersOptions();
        options.Providers["lab"] = new ProviderOptions { Kind = ProviderKinds.OpenAICompatible, Endpoint = $"http://{User}:{Password}@models.example:8000/v1" };

        var listed = new ProviderCatalog(Microsoft.Extensions.Options.Options.Create(options)).List().Single(p => p.Name == "lab");

        Assert.Equal("http://models.example:8000/v1", listed.Endpoint);
    }

    [Theory]
    [InlineData("see http://u:p@h.example/v1 and https://a%40b:p%3Aw@x.example:8443/p?q=1", "see http://h.example/v1 and https://x.example:8443/p?q=1")]
    [InlineData("raw @ in a password: http://user:p@ss@host.example/v1", "raw @ in a password: http://host.example/v1")]
    [InlineData("no credentials: http://host.example/a@b and mailto:x@y.example", "no credentials: http://host.example/a@b and mailto:x@y.example")]
    public void Strip_UrlsInText_UserInfoRemovedOnly(string text, string expected) => Assert.Equal(expected, UrlRedaction.Strip(text));

    private static void AssertClean(string? text)
    {
        Assert.NotNull(text);
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        Assert.DoesNotContain(User, text, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
