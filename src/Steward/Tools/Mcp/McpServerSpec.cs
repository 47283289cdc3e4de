namespace Steward.Tools.Mcp;

/// <summary>
/// An MCP server a preset lists under <c>mcp:</c>: started with a <see cref="Command"/> (stdio) or reached at a
/// streamable-HTTP <see cref="Url"/>. Its tools join the agent's.
/// </summary>
public sealed record McpServerSpec
{
    /// <summary>The name errors and the UI show.</summary>
    public required string Name { get; init; }

    /// <summary>The program to start (stdio transport).</summary>
    public string? Command { get; init; }

    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Environment variables for the started program.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    /// <summary>The server's streamable-HTTP endpoint.</summary>
    public Uri? Url { get; init; }

    /// <summary>HTTP headers sent to <see cref="Url"/> (e.g. an authorization header). Never shown or logged.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Every call of this server's tools needs a person's approval.</summary>
    public bool RequireApproval { get; init; }

    /// <summary>Only these of its tools are offered; empty offers all.</summary>
    public IReadOnlyList<string> Tools { get; init; } = [];
}

/// <summary>An MCP tool call that could not be made because its server is not running; the message names the server.</summary>
public sealed class McpToolException : Exception
{
    public McpToolException(string message) : base(message) { }

    public McpToolException(string message, Exception innerException) : base(message, innerException) { }

    public McpToolException() { }
}
