namespace Steward.LocalModels;

/// <summary>
/// A model's chat template (the GGUF <c>tokenizer.chat_template</c> Jinja source) cannot render the conversation:
/// the template uses a construct the embedded engine does not interpret, it is malformed, or the template itself
/// refused the conversation with <c>raise_exception</c> (for example "Conversation roles must alternate"). The message
/// names the construct and its line and column, or quotes the template's own message. No prompt is produced: a
/// template Steward cannot render exactly is never approximated.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    public ChatTemplateException()
    {
    }

    public ChatTemplateException(string message)
        : base(message)
    {
    }

    public ChatTemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal ChatTemplateException(string message, int line, int column, bool raisedByTemplate = false)
        : base(message)
    {
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>1-based line in the template source where the problem is, or 0 when not tied to a place.</summary>
    public int Line { get; }

    /// <summary>1-based column in the template source, or 0 when not tied to a place.</summary>
    public int Column { get; }

    /// <summary>True when the template called <c>raise_exception</c>: the conversation, not the template, needs fixing.</summary>
    public bool RaisedByTemplate { get; }
}
