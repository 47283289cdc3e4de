using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Steward.LocalModels.Templates;

/// <summary>
/// Llama 3.x: <c>&lt;|begin_of_text|&gt;</c>, then <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{trimmed content}&lt;|eot_id|&gt;</c>
/// per message. Llama 3.1/3.2 templates (recognised by "Cutting Knowledge Date") always open with a system turn
/// carrying "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n" before the (trimmed) system message;
/// the date is the template's literal <c>date_string</c> (3.1: "26 Jul 2024"), or today's for templates that call
/// <c>strftime_now</c> (3.2), as llama.cpp renders them.
/// </summary>
internal sealed partial class Llama3Template : ChatTemplate
{
    private const string DefaultDate = "26 Jul 2024";

    private readonly string _bosText;
    private readonly bool _knowledgeDateHeader;
    private readonly string? _fixedDate;
    private readonly TimeProvider _timeProvider;

    public Llama3Template(string jinja, string bosText, bool includesBos, TimeProvider timeProvider)
        : base(ChatTemplateFamily.Llama3, includesBos, ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"])
    {
        ArgumentNullException.ThrowIfNull(jinja);
        _bosText = bosText;
        _timeProvider = timeProvider;
        _knowledgeDateHeader = jinja.Contains("Cutting Knowledge Date", StringComparison.Ordinal);
        _fixedDate = jinja.Contains("strftime_now", StringComparison.Ordinal)
            ? null
            : DateString().Match(jinja) is { Success: true } m ? m.Groups[1].Value : DefaultDate;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = NewBuilder(messages);
        if (IncludesBos)
        {
            text.Append(_bosText);
        }

        IReadOnlyList<ChatMessage> turns = messages;
        if (_knowledgeDateHeader)
        {
            (var system, turns) = TakeLeadingSystem(messages);
            var date = _fixedDate ?? _timeProvider.GetLocalNow().ToString("dd MMM yyyy", CultureInfo.InvariantCulture);
            Header(text, "system")
                .Append("Cutting Knowledge Date: December 2023\nToday Date: ").Append(date).Append("\n\n")
                .Append(system?.Trim()).Append("<|eot_id|>");
        }

        foreach (var message in turns)
        {
            Header(text, message.Role.Value).Append(message.Text.Trim()).Append("<|eot_id|>");
        }

        if (addGenerationPrompt)
        {
            Header(text, "assistant");
        }

        return text.ToString();
    }

    private static System.Text.StringBuilder Header(System.Text.StringBuilder text, string role) =>
        text.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n");

    [GeneratedRegex(@"date_string\s*=\s*[""']([^""']+)[""']", RegexOptions.CultureInvariant)]
    private static partial Regex DateString();
}
