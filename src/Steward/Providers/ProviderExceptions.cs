namespace Steward.Providers;

/// <summary>What went wrong talking to a provider, in terms a user can act on.</summary>
public enum ProviderFailureKind
{
    Unknown,
    Unauthorized,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unreachable,
    BadRequest,

    /// <summary>The provider's streamed answer stopped before it was finished (no finish reason, no usage).</summary>
    Incomplete,
}

/// <summary>
/// A provider call failed. The message is one clear sentence naming the provider, what happened and what to do;
/// it never contains a key or other secret (the inner exception is kept for diagnostics only, never shown).
/// </summary>
public sealed class ProviderException : Exception
{
    public ProviderException(string providerName, ProviderFailureKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ProviderName = providerName;
        Kind = kind;
    }

    public ProviderException() { }

    public ProviderException(string message) : base(message) { }

    public ProviderException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The configured provider name.</summary>
    public string ProviderName { get; } = "";

    /// <summary>The failure's category.</summary>
    public ProviderFailureKind Kind { get; }
}

/// <summary>No usable provider is configured for what was asked (missing key, endpoint or model, or an unknown name).</summary>
public sealed class ProviderNotConfiguredException : Exception
{
    public ProviderNotConfiguredException(string message) : base(message) { }

    public ProviderNotConfiguredException() { }

    public ProviderNotConfiguredException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>What a provider's own exception said, redacted: kept as a <see cref="ProviderException"/>'s inner exception for diagnostics.</summary>
public sealed class ProviderDiagnosticException : Exception
{
    public ProviderDiagnosticException() { }

    public ProviderDiagnosticException(string message) : base(message) { }

    public ProviderDiagnosticException(string message, Exception innerException) : base(message, innerException) { }
}
