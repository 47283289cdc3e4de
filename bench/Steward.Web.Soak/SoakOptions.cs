using System.Globalization;

namespace Steward.Web.Soak;

/// <summary>The soak's settings from its command line.</summary>
internal sealed record SoakOptions(
    int Chats, int Pages, TimeSpan Retention, TimeSpan Idle, int ReloadEvery, int MaxTokens, string? Output, IReadOnlyDictionary<string, string> Environment)
{
    public static SoakOptions Parse(string[] args)
    {
        int Int(string name, int fallback) =>
            Value(args, name) is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

        var retention = TimeSpan.FromSeconds(Int("--retention", 20));
        return new SoakOptions(
            Chats: Int("--chats", 300),
            Pages: Int("--pages", 6),
            Retention: retention,
            // Past the retention, plus the time Blazor takes to notice (it sweeps retained circuits periodically).
            Idle: TimeSpan.FromSeconds(Int("--idle", (int)retention.TotalSeconds + 40)),
            ReloadEvery: Math.Max(1, Int("--reload-every", 10)),
            MaxTokens: Int("--max-tokens", 40),
            Output: Value(args, "--out"),
            // --env NAME=VALUE (repeatable): settings for the web app, e.g. to compare GC modes.
            Environment: args.Select((a, i) => (a, i)).Where(p => p.a == "--env" && p.i + 1 < args.Length).Select(p => args[p.i + 1].Split('=', 2))
                .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : ""));
    }

    private static string? Value(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
