using System.Globalization;
using Microsoft.Playwright;
using Steward.Web.Soak;

// Web memory soak: starts the real web app (embedded engine on tests/models/stories260K.gguf), opens CHATS chats from
// PAGES browser pages at once in Debian's chromium (New chat in the same tab, and a full reload every RELOAD-EVERY
// chats, so circuits are both reused and left behind), closes the pages, waits past the circuit retention, and prints
// the web process's resident memory and live managed heap (after a full GC, from a gcdump) at each point, as ratios
// against the baseline measured after warm-up in the same run. The heap's largest types are printed at each point
// and the .gcdump files kept, so what holds memory can be read with 'dotnet gcdump report FILE'.
//
// Usage: dotnet run -c Release --project bench/Steward.Web.Soak [-- --chats 300 --pages 6 --retention 20 --idle 40
//        --reload-every 10 --max-tokens 40 --out DIR --env NAME=VALUE]
var options = SoakOptions.Parse(args);
var output = Directory.CreateDirectory(options.Output ?? Path.Combine(Path.GetTempPath(), "steward-web-soak-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
Console.WriteLine($"soak: {options.Chats} chats from {options.Pages} pages, circuit retention {options.Retention.TotalSeconds:0} s, idle {options.Idle.TotalSeconds:0} s; dumps in {output.FullName}");

await using var app = await SoakApp.StartAsync(options, output);
var probe = new MemoryProbe(SoakApp.Repository, app.ProcessId, output);
var points = new List<MemoryPoint> { await probe.MeasureAsync("started") };

using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
{
    ExecutablePath = "/usr/bin/chromium",
    Headless = true,
    Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
var pages = new List<ChatPage>();
for (var i = 0; i < options.Pages; i++)
{
    pages.Add(await ChatPage.OpenAsync(browser, app.BaseUrl));
}

// Warm-up: one chat per page, so first-use costs (JIT, caches, the model's weights) are in the baseline, not the growth.
await Task.WhenAll(pages.Select(p => p.ChatAsync(reload: false)));
var baseline = await probe.MeasureAsync("after warm-up (baseline)");
points.Add(baseline);

var started = DateTime.UtcNow;
var done = 0;
var failures = 0;
await Task.WhenAll(pages.Select(async page =>
{
    while (true)
    {
        var number = Interlocked.Increment(ref done);
        if (number > options.Chats)
        {
            return;
        }

        try
        {
            await page.ChatAsync(reload: number % options.ReloadEvery == 0);
        }
        catch (Exception ex) when (ex is PlaywrightException or TimeoutException)
        {
            Interlocked.Increment(ref failures);
            Console.Error.WriteLine($"chat {number} failed: {ex.Message.Split('\n')[0]}");
            await page.RecoverAsync();
        }

        if (number % 50 == 0)
        {
            Console.WriteLine($"  {number} chats, {(DateTime.UtcNow - started).TotalSeconds:0} s, RSS {MemoryProbe.ResidentMiB(app.ProcessId):0} MiB");
        }
    }
}));
Console.WriteLine($"{options.Chats} chats in {(DateTime.UtcNow - started).TotalMinutes:0.0} min, {failures} failed");
points.Add(await probe.MeasureAsync("after the chats (pages open)"));

foreach (var page in pages)
{
    await page.DisposeAsync();
}

points.Add(await probe.MeasureAsync("pages closed"));
Console.WriteLine($"idling {options.Idle.TotalSeconds:0} s (circuit retention {options.Retention.TotalSeconds:0} s)...");
await Task.Delay(options.Idle);
points.Add(await probe.MeasureAsync("after idle"));

Console.WriteLine();
Console.WriteLine($"{"point",-30} {"RSS MiB",8} {"x base",7} {"after GC",9} {"x base",7} {"GC committed",13} {"x base",7} {"live heap",10} {"x base",7}");
foreach (var p in points)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{p.Name,-30} {p.ResidentMiB,8:0} {p.ResidentMiB / baseline.ResidentMiB,7:0.00} {p.ResidentAfterGcMiB,9:0} {p.ResidentAfterGcMiB / baseline.ResidentAfterGcMiB,7:0.00} " +
        $"{p.GcCommittedMiB,13:0} {p.GcCommittedMiB / baseline.GcCommittedMiB,7:0.00} {p.LiveHeapMiB,10:0.0} {p.LiveHeapMiB / baseline.LiveHeapMiB,7:0.00}"));
}

var last = points[^1];
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"after idle vs baseline: RSS after GC {last.ResidentAfterGcMiB / baseline.ResidentAfterGcMiB:0.00}x, GC committed {last.GcCommittedMiB / baseline.GcCommittedMiB:0.00}x, live heap {last.LiveHeapMiB / baseline.LiveHeapMiB:0.00}x ({failures} of {options.Chats} chats failed)"));
return failures > options.Chats / 10 ? 1 : 0;
