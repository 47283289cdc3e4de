using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// Zephyr (TinyLlama Chat v1.0 and other Zephyr fine-tunes): <c>&lt;|{role}|&gt;\n{content}{eos}\n</c> per message and
/// <c>&lt;|assistant|&gt;\n</c> as the generation prompt. The newlines after each turn come from the template's own
/// line breaks, which Hugging Face's renderer keeps after expressions (it trims them only after block tags).
/// </summary>
internal sealed class ZephyrTemplate : ChatTemplate
{
    private readonly string _eos;

    public ZephyrTemplate(string eosText)
        : base(ChatTemplateFamily.Zephyr, includesBos: false, [eosText])
    {
        _eos = eosText;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = NewBuilder(messages);
        foreach (var message in messages)
        {
            text.Append("<|").Append(message.Role.Value).Append("|>\n").Append(message.Text).Append(_eos).Append('\n');
        }

        if (addGenerationPrompt)
        {
            text.Append("<|assistant|>\n");
        }

        return text.ToString();
    }
}
