namespace Steward.LocalModels.Tokenization;

/// <summary>
/// A model's tokenizer cannot be built: an unknown <c>tokenizer.ggml.model</c> or <c>tokenizer.ggml.pre</c>
/// name, or missing or inconsistent vocabulary metadata. The message names the offending value.
/// </summary>
public sealed class UnsupportedTokenizerException : Exception
{
    public UnsupportedTokenizerException()
    {
    }

    public UnsupportedTokenizerException(string message)
        : base(message)
    {
    }

    public UnsupportedTokenizerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
