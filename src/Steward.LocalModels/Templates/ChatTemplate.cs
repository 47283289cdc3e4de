using System.Text;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Tokenization;
using Steward.LocalModels.Tools;

namespace Steward.LocalModels.Templates;

/// <summary>
/// Renders a conversation into the prompt text a model was trained on. A GGUF with a <c>tokenizer.chat_template</c>
/// is rendered by interpreting that Jinja source (<see cref="JinjaChatTemplate"/>); without one, the family of its chat
/// markers is used (the family templates reproduce what their reference templates render for text messages), else
/// the plain completion format. Tools and tool messages go through the template when it supports them, else through
/// <see cref="ToolPromptFallback"/>. Images and other non-text contents are not rendered. Instances are immutable
/// and thread-safe.
/// </summary>
internal abstract class ChatTemplate
{
    protected ChatTemplate(ChatTemplateFamily family, bool includesBos, IReadOnlyList<string> endOfTurnTokens, IReadOnlyList<string>? stopSequences = null)
    {
        Family = family;
        IncludesBos = includesBos;
        EndOfTurnTokens = endOfTurnTokens;
        StopSequences = stopSequences ?? [];
    }

    public ChatTemplateFamily Family { get; }

    /// <summary>
    /// The rendered text starts with the BOS token's text, so it must be encoded with <c>addBos: false</c> and
    /// special tokens parsed, or BOS would be doubled.
    /// </summary>
    public bool IncludesBos { get; }

    /// <summary>Special-token texts that end the assistant's turn (map them to ids with <see cref="ITextTokenizer.FindToken"/>).</summary>
    public IReadOnlyList<string> EndOfTurnTokens { get; }

    /// <summary>Plain-text stop sequences the generated text should be cut at (used by the completion format).</summary>
    public IReadOnlyList<string> StopSequences { get; }

    /// <summary>Renders <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> the text ends where the assistant's answer begins.</summary>
    public abstract string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);

    /// <summary>
    /// Renders <paramref name="messages"/> with <paramref name="tools"/> offered to the model. Templates without tool
    /// support get the tools, calls and results as text through <see cref="ToolPromptFallback"/>.
    /// </summary>
    /// <exception cref="ChatTemplateException">The model's Jinja template cannot be interpreted, or refused the conversation.</exception>
    public virtual string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        return ToolPromptFallback.IsNeeded(messages, tools)
            ? Render(ToolPromptFallback.Rewrite(messages, tools), addGenerationPrompt)
            : Render(messages, addGenerationPrompt);
    }

    /// <summary>
    /// Renders <paramref name="messages"/> and encodes the prompt: special tokens in the rendered text (chat
    /// markers, BOS) are parsed, and BOS is added only when the model wants one and the template did not write it.
    /// Like llama.cpp, marker text typed inside a message is parsed as the marker too.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(ITextTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        EncodePrompt(tokenizer, messages, [], addGenerationPrompt);

    /// <inheritdoc cref="EncodePrompt(ITextTokenizer, IReadOnlyList{ChatMessage}, bool)"/>
    public IReadOnlyList<int> EncodePrompt(ITextTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var prompt = Render(messages, tools, addGenerationPrompt);
        var bosText = tokenizer.BosId is { } bos ? tokenizer.GetTokenText(bos) : null;
        var writesBos = IncludesBos || (!string.IsNullOrEmpty(bosText) && prompt.StartsWith(bosText, StringComparison.Ordinal));
        return tokenizer.Encode(prompt, addBos: tokenizer.AddBos && !writesBos, parseSpecialTokens: true);
    }

    /// <summary>The ids of <see cref="EndOfTurnTokens"/> that exist in <paramref name="tokenizer"/>'s vocabulary.</summary>
    public IReadOnlyList<int> GetEndOfTurnTokenIds(ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return [.. EndOfTurnTokens.Select(tokenizer.FindToken).OfType<int>().Distinct()];
    }

    /// <summary>
    /// Picks the template for a model from its tokenizer metadata: the GGUF's own Jinja template when it has one (a
    /// template that cannot be interpreted gives a template whose rendering throws the reason), else the family of
    /// the chat markers in its vocabulary, else the plain completion format.
    /// </summary>
    public static ChatTemplate ForModel(TokenizerSpec spec, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string? TokenText(int? id) => id is { } i && i >= 0 && i < spec.Tokens.Count ? spec.Tokens[i] : null;
        var bos = TokenText(spec.BosId);
        var eos = TokenText(spec.EosId);
        if (!string.IsNullOrWhiteSpace(spec.ChatTemplate))
        {
            return JinjaChatTemplate.Create(spec.ChatTemplate, bos, eos, timeProvider ?? TimeProvider.System);
        }

        return Detect(VocabularyMarkers(spec), bos, eos, timeProvider);
    }

    /// <summary>The chat markers among a vocabulary's special tokens, as text <see cref="DetectFamily"/> can read.</summary>
    private static string? VocabularyMarkers(TokenizerSpec spec)
    {
        string[] markers = ["<|im_start|>", "<|start_header_id|>", "<start_of_turn>", "<|user|>", "<|end|>"];
        var found = new List<string>();
        for (var id = 0; id < spec.Tokens.Count; id++)
        {
            if (markers.Contains(spec.Tokens[id]) && spec.GetTokenType(id) is TokenType.Control or TokenType.UserDefined)
            {
                found.Add(spec.Tokens[id]);
            }
        }

        return found.Count == 0 ? null : string.Join(' ', found);
    }

    /// <summary>
    /// Recognises the family of <paramref name="jinja"/> by its marker strings. A null or empty template gives the
    /// plain completion format (<see cref="CompletionTemplate"/>), and so does a template with no known markers.
    /// </summary>
    /// <param name="jinja">The <c>tokenizer.chat_template</c> text.</param>
    /// <param name="bosText">The BOS token's text; the family's usual one when null.</param>
    /// <param name="eosText">The EOS token's text; the family's usual one when null.</param>
    /// <param name="timeProvider">Clock for templates that print today's date (Llama 3.2); the system clock when null.</param>
    public static ChatTemplate Detect(string? jinja, string? bosText = null, string? eosText = null, TimeProvider? timeProvider = null)
    {
        if (string.IsNullOrWhiteSpace(jinja))
        {
            return new CompletionTemplate(ChatTemplateFamily.None);
        }

        var family = DetectFamily(jinja);
        var usesBos = jinja.Contains("bos_token", StringComparison.Ordinal);
        return family switch
        {
            ChatTemplateFamily.ChatML => new ChatMlTemplate(ChatMlTemplate.FindDefaultSystemPrompt(jinja)),
            ChatTemplateFamily.Llama3 => new Llama3Template(jinja, bosText ?? "<|begin_of_text|>", usesBos, timeProvider ?? TimeProvider.System),
            ChatTemplateFamily.Llama2 or ChatTemplateFamily.Mistral =>
                new InstTemplate(family, bosText ?? "<s>", eosText ?? "</s>"),
            ChatTemplateFamily.Phi3 => new Phi3Template(usesBos ? bosText ?? "<s>" : null, eosText ?? "<|endoftext|>"),
            ChatTemplateFamily.Zephyr => new ZephyrTemplate(eosText ?? "</s>"),
            ChatTemplateFamily.Gemma => new GemmaTemplate(usesBos ? bosText ?? "<bos>" : null),
            _ => new CompletionTemplate(ChatTemplateFamily.Unrecognized),
        };
    }

    /// <summary>The family <paramref name="jinja"/> belongs to, by marker strings.</summary>
    public static ChatTemplateFamily DetectFamily(string? jinja)
    {
        if (string.IsNullOrWhiteSpace(jinja))
        {
            return ChatTemplateFamily.None;
        }

        bool Has(string marker) => jinja.Contains(marker, StringComparison.Ordinal);
        if (Has("<|im_start|>"))
        {
            return ChatTemplateFamily.ChatML;
        }

        if (Has("<|start_header_id|>"))
        {
            return ChatTemplateFamily.Llama3;
        }

        if (Has("<start_of_turn>"))
        {
            return ChatTemplateFamily.Gemma;
        }

        if (Has("<|user|>"))
        {
            return Has("<|end|>") ? ChatTemplateFamily.Phi3 : ChatTemplateFamily.Zephyr;
        }

        if (Has("[INST]"))
        {
            return Has("<<SYS>>") ? ChatTemplateFamily.Llama2 : ChatTemplateFamily.Mistral;
        }

        return ChatTemplateFamily.Unrecognized;
    }

    /// <summary>
    /// Splits off a leading system message, the way templates that have no system turn fold it into the first
    /// user turn. Later system messages are kept in place (and rendered as user turns by those templates).
    /// </summary>
    protected static (string? System, IReadOnlyList<ChatMessage> Turns) TakeLeadingSystem(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages.Count > 0 && messages[0].Role == ChatRole.System
            ? (messages[0].Text, messages.Skip(1).ToList())
            : (null, messages);
    }

    protected static StringBuilder NewBuilder(IReadOnlyList<ChatMessage> messages) =>
        new(messages.Sum(m => m.Text.Length) + 64 * (messages.Count + 1));
}
