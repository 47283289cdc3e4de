using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Steward.LocalModels.Templates.Jinja;

namespace Steward.LocalModels.Tools;

/// <summary>
/// Tools for a model whose chat template has no tool support (SmolLM2, Phi-3, a family template when the GGUF has no
/// template): the conversation is rewritten into plain text turns in the Hermes format Qwen2.5 and many fine-tunes are
/// trained on. The tool list goes at the end of the system message (one is added when there is none):
/// <code>
/// # Tools
///
/// You may call one or more functions to assist with the user query.
///
/// You are provided with function signatures within &lt;tools&gt;&lt;/tools&gt; XML tags:
/// &lt;tools&gt;
/// {"type": "function", "function": {...}}
/// &lt;/tools&gt;
///
/// For each function call, return a json object with function name and arguments within &lt;tool_call&gt;&lt;/tool_call&gt; XML tags:
/// &lt;tool_call&gt;
/// {"name": &lt;function-name&gt;, "arguments": &lt;args-json-object&gt;}
/// &lt;/tool_call&gt;
/// </code>
/// An assistant's earlier calls become <c>&lt;tool_call&gt;{json}&lt;/tool_call&gt;</c> text in its turn, and tool results become a
/// user turn of <c>&lt;tool_response&gt;…&lt;/tool_response&gt;</c> blocks (consecutive results share one turn). The answer is
/// read back by <see cref="ToolCallParser"/>.
/// </summary>
internal static class ToolPromptFallback
{
    /// <summary>Whether <paramref name="messages"/> or <paramref name="tools"/> need the rewrite (tools, calls or results present).</summary>
    public static bool IsNeeded(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools) =>
        tools.Count > 0 || messages.Any(m => m.Contents.Any(c => c is FunctionCallContent or FunctionResultContent));

    public static List<ChatMessage> Rewrite(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        var output = new List<ChatMessage>(messages.Count + 1);
        if (tools.Count > 0)
        {
            var block = ToolsBlock(tools);
            if (messages.Count > 0 && messages[0].Role == ChatRole.System)
            {
                output.Add(new ChatMessage(ChatRole.System, messages[0].Text + "\n\n" + block));
                messages = [.. messages.Skip(1)];
            }
            else
            {
                output.Add(new ChatMessage(ChatRole.System, block));
            }
        }

        StringBuilder? responses = null;
        foreach (var message in messages)
        {
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (results.Count > 0)
            {
                foreach (var result in results)
                {
                    responses ??= new StringBuilder();
                    if (responses.Length > 0)
                    {
                        responses.Append('\n');
                    }

                    responses.Append("<tool_response>\n").Append(ToolDefinitions.ResultText(result)).Append("\n</tool_response>");
                }

                continue;
            }

            Flush();
            var calls = message.Contents.OfType<FunctionCallContent>().ToList();
            if (calls.Count == 0)
            {
                output.Add(message);
                continue;
            }

            var text = new StringBuilder(message.Text);
            foreach (var call in calls)
            {
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append("<tool_call>\n").Append(CallJson(call)).Append("\n</tool_call>");
            }

            output.Add(new ChatMessage(message.Role, text.ToString()));
        }

        Flush();
        return output;

        void Flush()
        {
            if (responses is { Length: > 0 })
            {
                output.Add(new ChatMessage(ChatRole.User, responses.ToString()));
            }

            responses = null;
        }
    }

    private static string ToolsBlock(IReadOnlyList<AIFunctionDeclaration> tools)
    {
        var text = new StringBuilder("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n")
            .Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        foreach (var tool in tools)
        {
            text.Append('\n').Append(CompactJson(ToolDefinitions.ToJson(tool)));
        }

        return text.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n")
            .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>")
            .ToString();
    }

    private static string CallJson(FunctionCallContent call) =>
        "{\"name\": " + JinjaJson.Serialize(new JinjaString(call.Name), JinjaJsonOptions.Default) + ", \"arguments\": " + CompactJson(ToolDefinitions.Arguments(call)) + "}";

    /// <summary>JSON with Python's <c>json.dumps</c> spacing (", " and ": "), as the Hermes prompts show it.</summary>
    private static string CompactJson(JsonElement element) =>
        JinjaJson.Serialize(JinjaJson.FromJson(element), JinjaJsonOptions.Default);
}
