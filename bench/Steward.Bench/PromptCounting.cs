using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Steward.Budgets;
using Steward.Providers;

using static Steward.Bench.BenchStats;

namespace Steward.Bench;

/// <summary>
/// What counting a call's prompt costs the budget layer as a conversation grows: every call sends the whole conversation
/// again (a session's next turn, a tool loop's next step, a gateway request), and the layer counts it before the call to
/// reserve its worst case. Measured: <see cref="TokenEstimator.CountPrompt"/>, which keeps each message's count by its
/// content; baseline, in the same run: tokenizing every message of every call (what it did before). Real o200k tokenizer,
/// English text (this repository's README), messages of about 2,000 characters. Figures are medians over rounds.
/// </summary>
internal static class PromptCounting
{
    private const int Rounds = 7;

    public static void Run(string[] args)
    {
        var turns = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
        var options = new ProvidersOptions();
        options.Providers["openai"] = new ProviderOptions { Kind = ProviderKinds.OpenAI, ApiKey = "unused", Model = "gpt-4o-mini" };
        var provider = new ProviderCatalog(Options.Create(options), [new OpenAIChatClientProvider(ProviderKinds.OpenAI)]).Resolve(null, null);
        var text = File.ReadAllText(FindReadme());
        Console.WriteLine($"Prompt counting: a conversation of {turns} turns (2 messages each, ~2,000 characters a message), sent whole on every turn; o200k tokenizer; {Rounds} rounds; {Environment.ProcessorCount} cores");

        var rows = new List<(double Tokenizing, double Counting, long LastTokens)>();
        for (var round = 0; round < Rounds; round++)
        {
            // New text each round (other slices of the README), so no round is served from another round's counts.
            var offset = round * 7_919 % Math.Max(1, text.Length - 4_000);
            var conversation = new List<ChatMessage>();
            double tokenizing = 0, counting = 0;
            long last = 0;
            for (var turn = 0; turn < turns; turn++)
            {
                conversation.Add(new ChatMessage(ChatRole.User, Slice(text, ref offset)));
                // What the layer is handed: the stored conversation read again, so the same text in new strings.
                var sent = conversation.Select(m => new ChatMessage(m.Role, new string(m.Text.AsSpan()))).ToList();
                var start = Stopwatch.GetTimestamp();
                var baseline = sent.Sum(m => TokenEstimator.CountText(provider, m.Text));
                tokenizing += Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                start = Stopwatch.GetTimestamp();
                last = TokenEstimator.CountPrompt(provider, null, sent);
                counting += Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (last != baseline + sent.Count * 3 + 3)
                {
                    throw new InvalidOperationException($"Counted {last} tokens, tokenizing gave {baseline}.");
                }

                conversation.Add(new ChatMessage(ChatRole.Assistant, Slice(text, ref offset)));
            }

            rows.Add((tokenizing / turns, counting / turns, last));
            Console.Error.WriteLine(FormattableString.Invariant($"round {round + 1}: tokenizing every message {tokenizing / turns:0} µs a call, counting {counting / turns:0} µs a call"));
        }

        Console.WriteLine($"{"turns",6} {"last prompt tokens",19} {"tokenize all µs/call",21} {"count µs/call",14} {"ratio",7}");
        Console.WriteLine(FormattableString.Invariant(
            $"{turns,6} {rows[0].LastTokens,19} {Median(rows.Select(r => r.Tokenizing)),21:0} {Median(rows.Select(r => r.Counting)),14:0} {Median(rows.Select(r => r.Counting / r.Tokenizing)),7:0.000}"));
        Console.WriteLine("ratio = counting / tokenizing every message, per round, median: what the budget layer pays for a call's prompt against tokenizing it whole.");
    }

    private static string Slice(string text, ref int offset)
    {
        if (offset + 2_000 > text.Length)
        {
            offset = 0;
        }

        var slice = text.Substring(offset, 2_000);
        offset += 2_000;
        return slice;
    }

    private static string FindReadme()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var readme = Path.Combine(folder.FullName, "README.md");
            if (File.Exists(readme) && Directory.Exists(Path.Combine(folder.FullName, "bench")))
            {
                return readme;
            }
        }

        throw new FileNotFoundException("Run from within the repository: the benchmark reads its README.md as text.");
    }
}
