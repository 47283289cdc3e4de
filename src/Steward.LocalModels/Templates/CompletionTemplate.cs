using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// For models without a (recognised) chat template, such as base models. A conversation that is a single user
/// message is the prompt verbatim, so a base model simply continues the text ("Once upon a time" → story). Any
/// other conversation becomes a transcript, one <c>{Role}: {content}</c> line per message (roles capitalised:
/// "System", "User", "Assistant"), ending with <c>Assistant:</c> when a generation prompt is asked for; generation
/// should stop at <c>\nUser:</c>, which <see cref="ChatTemplate.StopSequences"/> reports.
/// </summary>
internal sealed class CompletionTemplate : ChatTemplate
{
    public CompletionTemplate(ChatTemplateFamily family)
        : base(family, includesBos: false, [], ["\nUser:"])
    {
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 1 && messages[0].Role == ChatRole.User)
        {
            return messages[0].Text;
        }

        var lines = messages.Select(m => $"{Label(m.Role)}: {m.Text}").ToList();
        if (addGenerationPrompt)
        {
            lines.Add("Assistant:");
        }

        return string.Join('\n', lines);
    }

    private static string Label(ChatRole role) =>
        role.Value.Length == 0 ? role.Value : char.ToUpperInvariant(role.Value[0]) + role.Value[1..];
}
