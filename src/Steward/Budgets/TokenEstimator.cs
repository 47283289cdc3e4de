using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using Steward.Providers;

namespace Steward.Budgets;

/// <summary>
/// Counts tokens before a call is sent (its prompt) and after it, when a provider reports no usage (what it generated),
/// with the model family's real tokenizer where Steward has it: o200k (GPT-4o, 4.1, 5, o-series) and cl100k (GPT-4, 3.5)
/// through Microsoft.ML.Tokenizers, the GGUF model's own tokenizer and chat template for the embedded engine (exact).
/// Other models get a documented conservative estimate: one token per 3 characters (English averages about 4 on GPT
/// and Llama vocabularies) plus 4 per message. Long text is counted in slices, so the time grows linearly with its
/// length even without whitespace (BPE on one huge word is quadratic). Thread-safe.
/// </summary>
public static class TokenEstimator
{
    // OpenAI's chat format adds about 3 tokens per message and 3 to prime the reply (OpenAI cookbook).
    private const int OpenAITokensPerMessage = 3;
    private const int OpenAIReplyPriming = 3;
    private const int FallbackCharactersPerToken = 3;
    private const int FallbackTokensPerMessage = 4;

    // A slice is cut at whitespace near this length. Text with no whitespace there is one huge pre-token, whose BPE costs
    // the square of its length: it is cut hard at a much shorter length instead. A token never spans a cut, so a sliced
    // count can only err high, by at most one token per cut: under 0.2 % of the count for whitespace-free text.
    private const int SliceCharacters = 4096;
    private const int HardSliceCharacters = 512;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>Which counting method applies to a model, for the progress log.</summary>
    public static string MethodFor(ResolvedProvider provider) => ChooseTokenizer(provider) switch
    {
        { } t when ReferenceEquals(t, O200k.Value) => "o200k tokenizer",
        { } => "cl100k tokenizer",
        null => provider.Info.Tokenizer == PromptTokenizer.ModelsOwn ? "the model's own tokenizer" : "estimate (3 characters a token)",
    };

    /// <summary>
    /// Counts the prompt: instructions, every message and the tools' schemas. <paramref name="exactCounter"/>, when the
    /// client offers one (the embedded engine), renders and tokenizes the real prompt, tools included.
    /// </summary>
    public static long CountPrompt(ResolvedProvider provider, string? instructions, IReadOnlyList<ChatMessage> messages, IList<AITool>? tools = null,
        Func<IEnumerable<ChatMessage>, int>? exactCounter = null)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(messages);
        if (exactCounter is not null)
        {
            var all = instructions is null ? messages : messages.Prepend(new ChatMessage(ChatRole.System, instructions));
            return exactCounter(all);
        }

        var tokenizer = ChooseTokenizer(provider);
        var messageCount = messages.Count + (string.IsNullOrEmpty(instructions) ? 0 : 1);
        var perMessage = tokenizer is null ? FallbackTokensPerMessage : OpenAITokensPerMessage;
        var priming = tokenizer is null ? 0 : OpenAIReplyPriming;
        var count = string.IsNullOrEmpty(instructions) ? 0 : CountKept(tokenizer, instructions);
        foreach (var message in messages)
        {
            count += CountKept(tokenizer, MessageText(message));
        }

        return count + messageCount * perMessage + priming + CountTools(tokenizer, tools);
    }

    // Every call sends its instructions, tools and whole conversation again (each turn of a session, each step of a tool
    // loop, every gateway request), so a text's count is kept by its content and only what is new is tokenized. BPE costs
    // about 0.75 µs a token (o200k: 19 ms for 100 KB of English), 7 µs even for 16 characters; the 128-bit hash and the
    // lookup 0.3-3 µs at any of these lengths.
    // Bounded: at most this many counts; when full it starts again (a recount is cheap beside any call it serves). A
    // dictionary of value keys, not a MemoryCache: its object keys boxed the key on every lookup, twice a call.
    private const int MaxKeptCounts = 65_536;
    private static readonly ConcurrentDictionary<(Tokenizer Tokenizer, UInt128 Hash, int Length), long> KeptCounts = new();
    private static int _keptCount;

    private static long CountKept(Tokenizer? tokenizer, string text)
    {
        if (tokenizer is null)
        {
            return Count(null, text);
        }

        var key = (tokenizer, XxHash128.HashToUInt128(MemoryMarshal.AsBytes(text.AsSpan())), text.Length);
        if (KeptCounts.TryGetValue(key, out var count))
        {
            return count;
        }

        count = Count(tokenizer, text);
        // Counted by hand: the dictionary's own Count takes every one of its locks.
        if (Interlocked.Increment(ref _keptCount) > MaxKeptCounts)
        {
            KeptCounts.Clear();
            Interlocked.Exchange(ref _keptCount, 0);
        }

        KeptCounts[key] = count;
        return count;
    }

    /// <summary>Counts <paramref name="text"/> on its own, with the model's tokenizer or the estimate.</summary>
    public static long CountText(ResolvedProvider provider, string text)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(text);
        return Count(ChooseTokenizer(provider), text);
    }

    private static long Count(Tokenizer? tokenizer, string text)
    {
        if (tokenizer is null)
        {
            return ((long)text.Length + FallbackCharactersPerToken - 1) / FallbackCharactersPerToken;
        }

        long count = 0;
        foreach (var slice in Slices(text))
        {
            count += tokenizer.CountTokens(slice);
        }

        return count;
    }

    /// <summary>Cuts long text at whitespace near <see cref="SliceCharacters"/>, or hard where there is none.</summary>
    internal static IEnumerable<string> Slices(string text)
    {
        var start = 0;
        while (text.Length - start > SliceCharacters)
        {
            var cut = text.LastIndexOfAny([' ', '\n', '\t', '\r'], start + SliceCharacters - 1, SliceCharacters / 2);
            var end = cut > start ? cut : start + HardSliceCharacters;
            yield return text[start..end];
            start = end;
        }

        if (start < text.Length)
        {
            yield return text[start..];
        }
    }

    private static long CountTools(Tokenizer? tokenizer, IList<AITool>? tools) =>
        tools is { Count: > 0 }
            ? tools.OfType<AIFunctionDeclaration>().Sum(t => CountKept(tokenizer, t.Name + " " + t.Description + " " + t.JsonSchema.GetRawText()))
            : 0;


    // Text, tool calls (name and arguments) and tool results all reach the model.
    private static string MessageText(ChatMessage message)
    {
        if (message.Contents.All(c => c is TextContent))
        {
            return message.Text;
        }

        var parts = new List<string>();
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent t:
                    parts.Add(t.Text);
                    break;
                case FunctionCallContent call:
                    parts.Add(call.Name + " " + System.Text.Json.JsonSerializer.Serialize(call.Arguments));
                    break;
                case FunctionResultContent result:
                    parts.Add(result.Result?.ToString() ?? "");
                    break;
            }
        }

        return string.Join(' ', parts);
    }

    private static Tokenizer? ChooseTokenizer(ResolvedProvider provider)
    {
        if (provider.Info.Tokenizer is not (PromptTokenizer.OpenAIByModelName or PromptTokenizer.OpenAIElseO200k))
        {
            return null;
        }

        var model = provider.Model.ToLowerInvariant();
        if (model.StartsWith("gpt-4o", StringComparison.Ordinal) || model.StartsWith("gpt-4.1", StringComparison.Ordinal) ||
            model.StartsWith("gpt-5", StringComparison.Ordinal) || (model.Length > 1 && model[0] == 'o' && char.IsDigit(model[1])))
        {
            return O200k.Value;
        }

        if (model.StartsWith("gpt-4", StringComparison.Ordinal) || model.StartsWith("gpt-3.5", StringComparison.Ordinal) || model.StartsWith("gpt-35", StringComparison.Ordinal))
        {
            return Cl100k.Value;
        }

        return provider.Info.Tokenizer == PromptTokenizer.OpenAIElseO200k ? O200k.Value : null;
    }
}
