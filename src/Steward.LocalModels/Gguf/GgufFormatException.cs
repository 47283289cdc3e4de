namespace Steward.LocalModels.Gguf;

/// <summary>
/// A GGUF file cannot be used: bad magic, unsupported version, truncated data, an unknown tensor type or
/// architecture, or a missing tensor or metadata key. The message names the file and the problem.
/// </summary>
public sealed class GgufFormatException : Exception
{
    public GgufFormatException()
    {
    }

    public GgufFormatException(string message)
        : base(message)
    {
    }

    public GgufFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The file the problem was found in, when known.</summary>
    public string? FilePath { get; init; }
}
