using System.Net;

namespace Steward.LocalModels.Models;

/// <summary>
/// A model name or path did not lead to a GGUF file. The message says what was looked for, where, and how to
/// get the model (<c>steward models pull {name}</c> for known names).
/// </summary>
public sealed class ModelNotFoundException : Exception
{
    public ModelNotFoundException()
    {
    }

    public ModelNotFoundException(string message)
        : base(message)
    {
    }

    public ModelNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The name or path that was asked for.</summary>
    public string? RequestedModel { get; init; }

    /// <summary>The files that were tried.</summary>
    public IReadOnlyList<string> SearchedPaths { get; init; } = [];
}

/// <summary>A model download failed: an HTTP error status (the message names the URL and status) or a broken connection after every retry.</summary>
public sealed class ModelDownloadException : Exception
{
    public ModelDownloadException()
    {
    }

    public ModelDownloadException(string message)
        : base(message)
    {
    }

    public ModelDownloadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The URL that was requested.</summary>
    public Uri? Url { get; init; }

    /// <summary>The HTTP status the server answered with, when the failure was an error status.</summary>
    public HttpStatusCode? StatusCode { get; init; }
}

/// <summary>
/// A model file's SHA-256 digest is not the expected one (a corrupted or substituted download). A freshly
/// downloaded file that fails the check has been deleted.
/// </summary>
public sealed class ModelChecksumException : Exception
{
    public ModelChecksumException()
    {
    }

    public ModelChecksumException(string message)
        : base(message)
    {
    }

    public ModelChecksumException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The file that was checked (it may no longer exist).</summary>
    public string? FilePath { get; init; }

    /// <summary>Expected lower-case hex SHA-256.</summary>
    public string? Expected { get; init; }

    /// <summary>Computed lower-case hex SHA-256.</summary>
    public string? Actual { get; init; }
}
