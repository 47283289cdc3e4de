namespace Steward.LocalModels;

/// <summary>
/// The prompt plus the requested generation does not fit the model's context window. Carries the prompt's token
/// count, the tokens requested for generation and the context size so callers can trim the conversation.
/// </summary>
public sealed class ContextWindowExceededException : Exception
{
    public ContextWindowExceededException()
    {
    }

    public ContextWindowExceededException(string message)
        : base(message)
    {
    }

    public ContextWindowExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ContextWindowExceededException(int promptTokens, int requestedTokens, int contextSize)
        : base(requestedTokens > 0
            ? $"The prompt of {promptTokens:N0} tokens plus {requestedTokens:N0} tokens to generate exceeds the model's context window of {contextSize:N0} tokens."
            : $"The prompt of {promptTokens:N0} tokens does not fit the model's context window of {contextSize:N0} tokens.")
    {
        PromptTokens = promptTokens;
        RequestedTokens = requestedTokens;
        ContextSize = contextSize;
    }

    /// <summary>Tokens in the prompt, BOS and template included.</summary>
    public int PromptTokens { get; }

    /// <summary>Tokens asked for (the max output tokens), 0 when the prompt alone does not fit.</summary>
    public int RequestedTokens { get; }

    /// <summary>The context window in tokens.</summary>
    public int ContextSize { get; }
}
