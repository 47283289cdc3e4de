using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using Steward.Providers;

namespace Steward.Budgets;

/// <summary>
/// Counts a prompt's tokens before it is sent, with the model family's real tokenizer where Steward has it:
/// o200k (GPT-4o, 4.1, 5, o-series) and cl100k (GPT-4, 3.5) through Microsoft.ML.Tokenizers, the GGUF model's own
/// tokenizer and chat template for the embedded engine (exact). Other models get a documented conservative estimate:
/// one token per 3 characters (English averages about 4 on GPT and Llama vocabularies) plus 4 per message.
/// Thread-safe.
/// </summary>
public static class TokenEstimator
{
    // OpenAI's chat format adds about 3 tokens per message and 3 to prime the reply (OpenAI cookbook).
    private const int OpenAITokensPerMessage = 3;
    private const int OpenAIReplyPriming = 3;
    private const int FallbackCharactersPerToken = 3;
    private const int FallbackTokensPerMessage = 4;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>Which counting method applies to a model, for the progress log.</summary>
    public static string MethodFor(ResolvedProvider provider) => ChooseTokenizer(provider) switch
    {
        { } t when ReferenceEquals(t, O200k.Value) => "o200k tokenizer",
        { } => "cl100k tokenizer",
        null => provider.Kind == ProviderKinds.Local ? "the model's own tokenizer" : "estimate (3 characters a token)",
    };

    /// <summary>
    /// Counts the prompt: instructions, every message and the tools' schemas. <paramref name="exactCounter"/>, when the
    /// client offers one (the embedded engine), renders and tokenizes the real prompt.
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

        var texts = new List<string>(messages.Count + 2);
        if (!string.IsNullOrEmpty(instructions))
        {
            texts.Add(instructions);
        }

        texts.AddRange(messages.Select(m => m.Text));
        if (tools is { Count: > 0 })
        {
            texts.AddRange(tools.OfType<AIFunctionDeclaration>().Select(t => t.Name + " " + t.Description + " " + t.JsonSchema.GetRawText()));
        }

        var messageCount = messages.Count + (string.IsNullOrEmpty(instructions) ? 0 : 1);
        if (ChooseTokenizer(provider) is { } tokenizer)
        {
            return texts.Sum(t => (long)tokenizer.CountTokens(t)) + messageCount * OpenAITokensPerMessage + OpenAIReplyPriming;
        }

        return texts.Sum(t => ((long)t.Length + FallbackCharactersPerToken - 1) / FallbackCharactersPerToken) + messageCount * FallbackTokensPerMessage;
    }

    private static Tokenizer? ChooseTokenizer(ResolvedProvider provider)
    {
        if (provider.Kind is not (ProviderKinds.OpenAI or ProviderKinds.AzureOpenAI))
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

        // Azure deployments have free-form names; newer models are o200k, which also errs high on older ones.
        return provider.Kind == ProviderKinds.AzureOpenAI ? O200k.Value : null;
    }
}
