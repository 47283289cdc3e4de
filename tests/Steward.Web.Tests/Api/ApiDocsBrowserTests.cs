using Microsoft.Playwright;
using Steward.Web.Tests.Browser;

namespace Steward.Web.Tests.Api;

/// <summary>The Scalar reference at <c>/api/docs</c> in headless Chromium, under the app's Content-Security-Policy.</summary>
public sealed class ApiDocsBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Docs_InChromium_RendersTheRoutesFromLocalAssetsWithNoPolicyViolation()
    {
        fixture.RequireBrowser();
        var page = await fixture.NewPageAsync();
        var origin = new Uri(fixture.App!.BaseUrl).GetLeftPart(UriPartial.Authority);
        var foreign = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var failed = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(origin, StringComparison.Ordinal) && !request.Url.StartsWith("data:", StringComparison.Ordinal)
                && !request.Url.StartsWith("blob:", StringComparison.Ordinal))
            {
                foreign.Enqueue(request.Url);
            }
        };
        page.RequestFailed += (_, request) => failed.Enqueue(request.Url);

        var response = await page.GotoAsync("/api/docs");

        Assert.Equal(200, response!.Status);
        Assert.Contains("nonce-", response.Headers["content-security-policy"], StringComparison.Ordinal);
        // Scalar renders the document's operations: a run's start, by its summary.
        await Assertions.Expect(page.GetByText("Start a run").First).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Steward API").First).ToBeVisibleAsync();
        var violations = fixture.PolicyViolations.Where(v => v.Contains("/api/docs", StringComparison.Ordinal)).ToArray();
        Assert.True(violations.Length == 0, string.Join(Environment.NewLine, violations));
        Assert.Empty(foreign);
        Assert.Empty(failed);
    }
}
