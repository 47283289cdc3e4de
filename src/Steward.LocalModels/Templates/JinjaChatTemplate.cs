using Microsoft.Extensions.AI;
using Steward.LocalModels.Templates.Jinja;
using Steward.LocalModels.Tools;

namespace Steward.LocalModels.Templates;

/// <summary>
/// A model's own chat template: the GGUF <c>tokenizer.chat_template</c> Jinja source, interpreted as Hugging Face
/// renders it (see <see cref="JinjaTemplate"/>), with the variables of <see cref="ChatTemplateContext"/>. A template
/// that never mentions <c>tools</c> gets tools, calls and results through <see cref="ToolPromptFallback"/>. When the
/// source cannot be parsed, the instance still exists (so raw prompts and model information work) and every
/// rendering throws the parse error. Immutable and thread-safe.
/// </summary>
internal sealed class JinjaChatTemplate : ChatTemplate
{
    // Turn terminators a template may write; those it does write (or the family implies) end generation.
    private static readonly string[] KnownTerminators =
        ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>"];

    private readonly JinjaTemplate? _template;
    private readonly ChatTemplateException? _error;
    private readonly string? _bosText;
    private readonly string? _eosText;
    private readonly TimeProvider _timeProvider;

    private JinjaChatTemplate(string source, JinjaTemplate? template, ChatTemplateException? error, string? bosText, string? eosText, TimeProvider timeProvider)
        : base(DetectFamily(source), includesBos: false, Terminators(source, eosText))
    {
        Source = source;
        _template = template;
        _error = error;
        _bosText = bosText;
        _eosText = eosText;
        _timeProvider = timeProvider;
    }

    /// <summary>The Jinja source.</summary>
    public string Source { get; }

    /// <summary>Whether the template renders the <c>tools</c> variable itself.</summary>
    public bool SupportsTools => _template?.Mentions("tools") ?? false;

    /// <summary>The reason the source cannot be interpreted, or null when it parsed.</summary>
    public ChatTemplateException? ParseError => _error;

    public static JinjaChatTemplate Create(string source, string? bosText, string? eosText, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(timeProvider);
        try
        {
            return new JinjaChatTemplate(source, JinjaTemplate.Parse(source), null, bosText, eosText, timeProvider);
        }
        catch (ChatTemplateException ex)
        {
            return new JinjaChatTemplate(source, null, ex, bosText, eosText, timeProvider);
        }
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => Render(messages, [], addGenerationPrompt);

    public override string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        if (_template is null)
        {
            throw new ChatTemplateException(_error!.Message, _error.Line, _error.Column);
        }

        return _template.Render(BuildContext(messages, tools, addGenerationPrompt).Entries, _timeProvider);
    }

    /// <summary>
    /// The variables the template renders the conversation with (the tool fallback applied when the template has no
    /// tool support); tests hand the same variables to the reference renderer.
    /// </summary>
    internal JinjaDict BuildContext(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt)
    {
        if (!SupportsTools && ToolPromptFallback.IsNeeded(messages, tools))
        {
            messages = ToolPromptFallback.Rewrite(messages, tools);
            tools = [];
        }

        return ChatTemplateContext.Build(messages, tools, addGenerationPrompt, _bosText, _eosText);
    }

    private static List<string> Terminators(string source, string? eosText)
    {
        var terminators = KnownTerminators.Where(t => source.Contains(t, StringComparison.Ordinal)).ToList();
        if (DetectFamily(source) == ChatTemplateFamily.Llama3)
        {
            // Llama 3.1+ ends a tool-calling turn with <|eom_id|> even where the template never writes it.
            terminators.Add("<|eom_id|>");
        }

        if (!string.IsNullOrEmpty(eosText))
        {
            terminators.Add(eosText);
        }

        return [.. terminators.Distinct(StringComparer.Ordinal)];
    }
}
