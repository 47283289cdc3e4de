using Microsoft.Playwright;

namespace Steward.Web.Soak;

/// <summary>One browser tab using Chat as a person would: a new chat, a question, the answer streamed in.</summary>
internal sealed class ChatPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly IPage _page;
    private readonly string _baseUrl;

    private ChatPage(IBrowserContext context, IPage page, string baseUrl)
    {
        _context = context;
        _page = page;
        _baseUrl = baseUrl;
    }

    public static async Task<ChatPage> OpenAsync(IBrowser browser, string baseUrl)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl });
        context.SetDefaultTimeout(120_000);
        var page = new ChatPage(context, await context.NewPageAsync(), baseUrl);
        await page.LoadAsync();
        return page;
    }

    /// <summary>One chat: a full page load (a new circuit) or New chat in the current one, then a question answered.</summary>
    public async Task ChatAsync(bool reload)
    {
        if (reload)
        {
            await LoadAsync();
        }
        else
        {
            await _page.Locator("[data-testid=new-chat]").ClickAsync();
            await _page.Locator("[data-testid=assistant-message]").First.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached });
        }

        await _page.Locator("[data-testid=message-input] textarea, textarea[data-testid=message-input]").FillAsync("Once upon a time");
        await _page.Locator("[data-testid=send]").ClickAsync();
        await _page.Locator("[data-testid=assistant-message][data-finished=true]").First.WaitForAsync();
    }

    /// <summary>After a failed chat, starts again from a fresh page.</summary>
    public async Task RecoverAsync()
    {
        try
        {
            await LoadAsync();
        }
        catch (Exception ex) when (ex is PlaywrightException or TimeoutException)
        {
            Console.Error.WriteLine($"reload failed: {ex.Message.Split('\n')[0]}");
        }
    }

    private async Task LoadAsync()
    {
        await _page.GotoAsync(_baseUrl + "/?preset=storyteller");
        await _page.Locator("#steward-app[data-interactive=true]").WaitForAsync();
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
