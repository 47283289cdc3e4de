using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// Gemma: <c>&lt;bos&gt;</c>, then <c>&lt;start_of_turn&gt;{user|model}\n{trimmed content}&lt;end_of_turn&gt;\n</c> per message
/// and <c>&lt;start_of_turn&gt;model\n</c> as the generation prompt. Gemma has no system role: the system text goes in
/// front of the first user turn followed by a blank line, as Gemma 3's template does (Gemma 1 and 2 templates
/// reject a system message instead).
/// </summary>
internal sealed class GemmaTemplate : ChatTemplate
{
    private readonly string? _bos;

    public GemmaTemplate(string? bosText)
        : base(ChatTemplateFamily.Gemma, includesBos: bosText is not null, ["<end_of_turn>", "<eos>"])
    {
        _bos = bosText;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = TakeLeadingSystem(messages);
        var text = NewBuilder(messages);
        text.Append(_bos);
        for (var i = 0; i < turns.Count; i++)
        {
            var role = turns[i].Role == ChatRole.Assistant ? "model" : "user";
            text.Append("<start_of_turn>").Append(role).Append('\n');
            if (i == 0 && system is not null)
            {
                text.Append(system).Append("\n\n");
            }

            text.Append(turns[i].Text.Trim()).Append("<end_of_turn>\n");
        }

        if (addGenerationPrompt)
        {
            text.Append("<start_of_turn>model\n");
        }

        return text.ToString();
    }
}
