using System.Net;
using Steward.Agents;
using Steward.Tests.TestSupport;
using Steward.Tools.Search;

namespace Steward.Tests.Tools;

/// <summary>
/// <c>web_fetch</c>: pages are untrusted. Loopback and private addresses are refused unless configured, redirects are
/// limited, scripts never reach the model, and every refusal reaches the model as an error result.
/// </summary>
public sealed class WebFetchTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FakeSearchServer _pages = null!;

    protected override void Configure(Dictionary<string, string?> settings) => _pages ??= FakeSearchServer.StartAsync().GetAwaiter().GetResult();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _pages.DisposeAsync();
    }

    private async Task<string> FetchThroughARunAsync(string url, bool allowPrivate)
    {
        if (allowPrivate)
        {
            await Engine.DisposeAsync();
            Engine = await TestEngine.StartAsync(Server.OpenAIUrl, s => s["Steward:Tools:WebFetch:AllowPrivateAddresses"] = "true");
        }

        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "reader.yaml"), TestEngine.Preset("reader", "web_search:\n  fetch: true"), Ct);
        Server.Reply = FakeModelServer.CallToolThenAnswer("web_fetch", $$"""{"url":"{{url}}"}""", "Read.");
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "reader", Query = "Read it." }, cancellationToken: Ct);
        Assert.Equal(RunStatus.Completed, response.Status);
        return Server.LastToolResult();
    }

    [Fact]
    public async Task WebFetch_LoopbackByDefault_IsRefusedAndTheModelIsTold()
    {
        var told = await FetchThroughARunAsync(_pages.BaseUrl + "/page", allowPrivate: false);

        Assert.StartsWith("Error: web_fetch does not read 127.0.0.1", told, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebFetch_AllowedPage_GivesItsTextWithoutScriptsStylesOrNavigation()
    {
        var told = await FetchThroughARunAsync(_pages.BaseUrl + "/page", allowPrivate: true);

        Assert.Contains("Charging report", told, StringComparison.Ordinal);
        Assert.Contains("Europe added fast chargers along highways.", told, StringComparison.Ordinal);
        Assert.DoesNotContain("SCRIPT-BODY", told, StringComparison.Ordinal);
        Assert.DoesNotContain("Menu", told, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/redirect/2", "Europe added fast chargers")]
    [InlineData("/redirect/5", "redirected more than 3 times")]
    [InlineData("/file.zip", "is application/zip, not a page of text")]
    public async Task WebFetch_RedirectsAndContentTypes_AreLimited(string path, string expected)
    {
        var told = await FetchThroughARunAsync(_pages.BaseUrl + path, allowPrivate: true);

        Assert.Contains(expected, told, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.20.0.1", true)]
    [InlineData("192.168.1.10", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd12:3456::1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("93.184.216.34", false)]
    [InlineData("2606:4700::1111", false)]
    public void IsForbidden_Address_RefusesEveryNonPublicRange(string address, bool forbidden) =>
        Assert.Equal(forbidden, WebFetch.IsForbidden(IPAddress.Parse(address)));
}
