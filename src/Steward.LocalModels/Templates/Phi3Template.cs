using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// Phi-3 / Phi-3.5: <c>&lt;|{role}|&gt;\n{content}&lt;|end|&gt;\n</c> per message (system included), then
/// <c>&lt;|assistant|&gt;\n</c> as the generation prompt, or the EOS text when no generation prompt is asked for, as
/// the reference template does. Templates that begin with <c>bos_token</c> (the first Phi-3-mini release) get it.
/// </summary>
internal sealed class Phi3Template : ChatTemplate
{
    private readonly string? _bos;
    private readonly string _eos;

    public Phi3Template(string? bosText, string eosText)
        : base(ChatTemplateFamily.Phi3, includesBos: bosText is not null, ["<|end|>", "<|endoftext|>"])
    {
        _bos = bosText;
        _eos = eosText;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = NewBuilder(messages);
        text.Append(_bos);
        foreach (var message in messages)
        {
            text.Append("<|").Append(message.Role.Value).Append("|>\n").Append(message.Text).Append("<|end|>\n");
        }

        text.Append(addGenerationPrompt ? "<|assistant|>\n" : _eos);
        return text.ToString();
    }
}
