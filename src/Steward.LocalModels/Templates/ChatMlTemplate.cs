using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// ChatML: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message, and
/// <c>&lt;|im_start|&gt;assistant\n</c> as the generation prompt. Content is not trimmed (Qwen2.5 and SmolLM2 do not).
/// When the template writes a default system prompt for conversations without one (Qwen2.5's "You are Qwen,
/// created by Alibaba Cloud…", SmolLM2's "You are a helpful AI assistant named SmolLM…"), that prompt is taken
/// from the template text and rendered the same way.
/// </summary>
internal sealed partial class ChatMlTemplate : ChatTemplate
{
    public ChatMlTemplate(string? defaultSystemPrompt)
        : base(ChatTemplateFamily.ChatML, includesBos: false, ["<|im_end|>", "<|endoftext|>"])
    {
        DefaultSystemPrompt = defaultSystemPrompt;
    }

    /// <summary>The system prompt used when the conversation has none, or null when the template adds none.</summary>
    public string? DefaultSystemPrompt { get; }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = NewBuilder(messages);
        if (DefaultSystemPrompt is not null && (messages.Count == 0 || messages[0].Role != ChatRole.System))
        {
            Turn(text, "system", DefaultSystemPrompt);
        }

        foreach (var message in messages)
        {
            Turn(text, message.Role.Value, message.Text);
        }

        if (addGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// Finds a literal default system turn in the Jinja source: <c>'&lt;|im_start|&gt;system\n…&lt;|im_end|&gt;</c> where the
    /// text between is a plain string (no expression), with <c>\n</c> written either escaped or as a real newline.
    /// </summary>
    public static string? FindDefaultSystemPrompt(string jinja)
    {
        ArgumentNullException.ThrowIfNull(jinja);
        var match = DefaultSystemTurn().Match(jinja);
        return match.Success ? match.Groups[1].Value.Replace("\\n", "\n", StringComparison.Ordinal) : null;
    }

    private static void Turn(System.Text.StringBuilder text, string role, string content) =>
        text.Append("<|im_start|>").Append(role).Append('\n').Append(content).Append("<|im_end|>\n");

    [GeneratedRegex(@"<\|im_start\|>system(?:\\n|\n)([^'""{}<+]+?)<\|im_end\|>", RegexOptions.CultureInvariant)]
    private static partial Regex DefaultSystemTurn();
}
