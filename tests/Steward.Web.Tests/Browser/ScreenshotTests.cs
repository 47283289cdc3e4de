using Microsoft.Playwright;
using Steward.Tests.TestSupport;

namespace Steward.Web.Tests.Browser;

/// <summary>
/// Every page at a laptop's, a desktop's and a phone's width, in the light and the dark theme: kept as test artifacts
/// (artifacts/screenshots/pages under the test output) for a person to look at, and checked for the one layout fault a
/// test can see, content wider than the window.
/// </summary>
public sealed class ScreenshotTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private static readonly int[] Widths = [1366, 1920, 390];

    [Fact]
    public async Task EveryPage_AtThreeWidthsInBothThemes_FitsTheWindowAndIsSaved()
    {
        fixture.RequireBrowser();
        fixture.ModelServer!.Reply = _ => new FakeReply { Chunks = ["A **short** answer with a list:\n\n- one\n- two\n"] };
        var setup = await fixture.NewPageAsync();
        await setup.OpenAsync("/?preset=scripted");
        await setup.AskAsync("What does a screenshot show?");
        var sessionId = (await setup.WaitForSessionAddressAsync())[^36..];
        var runId = (await setup.Locator("[data-testid=trace-link]").Last.GetAttributeAsync("href"))![^36..];
        await setup.Context.CloseAsync();

        var pages = new (string Name, string Path)[]
        {
            ("chat", "/"), ("chat-session", $"/chat/{sessionId}"), ("history", "/history"), ("session", $"/history/{sessionId}"),
            ("analytics", "/analytics"), ("traces", $"/traces/{runId}"), ("agents", "/agents"), ("evaluations", "/evaluations"),
        };
        var folder = Directory.CreateDirectory(Path.Combine(BrowserFixture.ScreenshotFolder, "pages")).FullName;
        var overflowing = new List<string>();
        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            foreach (var width in Widths)
            {
                await using var context = await fixture.Browser!.NewContextAsync(new BrowserNewContextOptions
                {
                    BaseURL = fixture.App!.BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = width < 600 ? 844 : 900 }, ColorScheme = scheme,
                });
                context.SetDefaultTimeout(30_000);
                var page = await context.NewPageAsync();
                foreach (var (name, path) in pages)
                {
                    await page.OpenAsync(path);
                    // Not NetworkIdle (half a second with no request in flight): it ran out at 30 s once in CI under load,
                    // and it is not what a screenshot needs. The page is whole once its circuit is up (OpenAsync), its
                    // files are loaded and its fonts are ready.
                    await page.WaitForLoadStateAsync(LoadState.Load);
                    await page.EvaluateAsync("() => document.fonts.ready.then(() => true)");
                    var file = Path.Combine(folder, $"{name}-{width}-{scheme.ToString().ToLowerInvariant()}.png");
                    await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true });
                    var extra = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
                    if (extra > 1)
                    {
                        overflowing.Add($"{name} at {width} px ({scheme}): {extra} px wider than the window");
                    }
                }
            }
        }

        Assert.Equal(2 * Widths.Length * pages.Length, Directory.GetFiles(folder, "*.png").Length);
        Assert.Empty(overflowing);
    }
}
