namespace Steward.Tools;

/// <summary>A tool call waiting for a person's yes or no: which tool, with what arguments.</summary>
/// <param name="Id">The request's id (answer it with this).</param>
/// <param name="CallId">The model's id for the call.</param>
/// <param name="Name">The tool's name.</param>
/// <param name="Arguments">The arguments as JSON (shortened when long).</param>
/// <param name="Server">The MCP server the tool belongs to, if any.</param>
public sealed record ToolApprovalRequest(string Id, string CallId, string Name, string Arguments, string? Server);

/// <summary>
/// Whoever can approve a run's tool calls (Chat's buttons, the terminal). A run with none (eval, the gateway, a
/// non-interactive command) denies every call that needs approval, and the model is told.
/// </summary>
public interface IToolApprover
{
    /// <summary>Asks; <see langword="true"/> to run the call. Cancelled when the run is, or when no answer comes in time.</summary>
    ValueTask<bool> ApproveAsync(ToolApprovalRequest request, CancellationToken cancellationToken);
}
