using Microsoft.Extensions.AI;
using Steward.LocalModels.Templates.Jinja;
using Steward.LocalModels.Tools;

namespace Steward.LocalModels.Templates;

/// <summary>
/// The variables a chat template renders with, as Hugging Face's <c>apply_chat_template</c> passes them:
/// <c>messages</c> (role and content; an assistant's tool calls as <c>tool_calls</c>; each tool result as its own
/// <c>tool</c> message with <c>tool_call_id</c> and <c>name</c>), <c>tools</c> (none when there are none),
/// <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>. Only text, function calls and function results
/// are rendered; other contents (images, reasoning, usage) are not part of a text prompt.
/// </summary>
internal static class ChatTemplateContext
{
    public static JinjaDict Build(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, bool addGenerationPrompt, string? bosText, string? eosText)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        var context = new JinjaDict();
        context.Entries["messages"] = Messages(messages);
        context.Entries["tools"] = tools.Count == 0
            ? JinjaNone.Instance
            : new JinjaList([.. tools.Select(t => JinjaJson.FromJson(ToolDefinitions.ToJson(t)))]);
        context.Entries["add_generation_prompt"] = JinjaValue.From(addGenerationPrompt);
        context.Entries["bos_token"] = new JinjaString(bosText ?? string.Empty);
        context.Entries["eos_token"] = new JinjaString(eosText ?? string.Empty);
        return context;
    }

    private static JinjaList Messages(IReadOnlyList<ChatMessage> messages)
    {
        var names = ToolDefinitions.CallNames(messages);
        var list = new List<JinjaValue>(messages.Count);
        foreach (var message in messages)
        {
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (results.Count > 0)
            {
                foreach (var result in results)
                {
                    var tool = new JinjaDict();
                    tool.Entries["role"] = new JinjaString("tool");
                    tool.Entries["content"] = new JinjaString(ToolDefinitions.ResultText(result));
                    tool.Entries["tool_call_id"] = new JinjaString(result.CallId ?? string.Empty);
                    if (result.CallId is { } id && names.TryGetValue(id, out var name))
                    {
                        tool.Entries["name"] = new JinjaString(name);
                    }

                    list.Add(tool);
                }

                continue;
            }

            var entry = new JinjaDict();
            entry.Entries["role"] = new JinjaString(message.Role.Value);
            entry.Entries["content"] = new JinjaString(message.Text);
            var calls = message.Contents.OfType<FunctionCallContent>().ToList();
            if (calls.Count > 0)
            {
                entry.Entries["tool_calls"] = new JinjaList([.. calls.Select(ToolCall)]);
            }

            list.Add(entry);
        }

        return new JinjaList(list);
    }

    private static JinjaDict ToolCall(FunctionCallContent call)
    {
        var function = new JinjaDict();
        function.Entries["name"] = new JinjaString(call.Name);
        function.Entries["arguments"] = JinjaJson.FromJson(ToolDefinitions.Arguments(call));
        var entry = new JinjaDict();
        entry.Entries["id"] = new JinjaString(call.CallId ?? string.Empty);
        entry.Entries["type"] = new JinjaString("function");
        entry.Entries["function"] = function;
        return entry;
    }
}
