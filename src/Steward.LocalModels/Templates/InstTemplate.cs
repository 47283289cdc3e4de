using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// The <c>[INST]</c> formats. Llama 2 chat: each user turn is <c>&lt;s&gt;[INST] {content} [/INST]</c> and each
/// assistant turn <c> {content} &lt;/s&gt;</c> (contents stripped), with the system message folded into the first user
/// turn as <c>&lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n</c>. Mistral Instruct (v0.1 template): one
/// <c>&lt;s&gt;</c> at the start, <c>[INST] {content} [/INST]</c> per user turn and <c>{content}&lt;/s&gt;</c> per
/// assistant turn; Mistral's template has no system role, so the system text is prepended to the first user turn
/// followed by a blank line (what later Mistral templates do). The prompt ends after <c>[/INST]</c> either way, so
/// <c>addGenerationPrompt</c> adds nothing.
/// </summary>
internal sealed class InstTemplate : ChatTemplate
{
    private readonly string _bos;
    private readonly string _eos;

    public InstTemplate(ChatTemplateFamily family, string bosText, string eosText)
        : base(family, includesBos: true, [eosText])
    {
        _bos = bosText;
        _eos = eosText;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = TakeLeadingSystem(messages);
        var llama2 = Family == ChatTemplateFamily.Llama2;
        var text = NewBuilder(messages);
        if (!llama2)
        {
            text.Append(_bos);
        }

        for (var i = 0; i < turns.Count; i++)
        {
            var content = turns[i].Text;
            if (i == 0 && system is not null)
            {
                content = llama2 ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{content}" : $"{system}\n\n{content}";
            }

            if (turns[i].Role == ChatRole.Assistant)
            {
                text.Append(llama2 ? $" {content.Trim()} {_eos}" : $"{content}{_eos}");
            }
            else
            {
                text.Append(llama2 ? $"{_bos}[INST] {content.Trim()} [/INST]" : $"[INST] {content} [/INST]");
            }
        }

        return text.ToString();
    }
}
