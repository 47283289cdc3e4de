using Microsoft.Extensions.AI;
using Steward.LocalModels.Tokenization;

namespace Steward.LocalModels.Tools;

/// <summary>
/// Tool-call reading for one generation: the <see cref="ToolCallParser"/> over the decoded text, plus the one signal
/// that has no text (Llama 3's <c>&lt;|python_tag|&gt;</c> control token). Exists only when tools are offered.
/// </summary>
internal sealed class ToolCallStream
{
    private readonly ToolCallParser _parser;
    private readonly int? _pythonTag;

    private ToolCallStream(ToolCallParser parser, int? pythonTag)
    {
        _parser = parser;
        _pythonTag = pythonTag;
    }

    /// <summary>Whether a call has come out.</summary>
    public bool HasCalls { get; private set; }

    /// <summary>A stream for a request that offers tools, or null (no tools, or <see cref="ChatToolMode.None"/>).</summary>
    public static ToolCallStream? Create(ChatOptions? options, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var tools = ToolDefinitions.Offered(options);
        return tools.Count == 0 ? null : new ToolCallStream(new ToolCallParser([.. tools.Select(t => t.Name)]), tokenizer.FindToken("<|python_tag|>"));
    }

    /// <summary>Sees each generated token before its text.</summary>
    public void OnToken(int id)
    {
        if (id == _pythonTag)
        {
            _parser.BeginJsonCall();
        }
    }

    public List<AIContent> Append(string text) => Track(_parser.Append(text));

    public List<AIContent> Finish() => Track(_parser.Finish());

    private List<AIContent> Track(List<AIContent> contents)
    {
        HasCalls |= contents.Any(c => c is FunctionCallContent);
        return contents;
    }
}
