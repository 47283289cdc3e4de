using Spectre.Console;
using Steward.Tools;

namespace Steward.Cli.Rendering;

/// <summary>
/// Asks on the terminal whether a tool call may run: the call (tool, server, arguments) on standard error, the answer
/// (y or n) read from standard input. No answer (the input is closed) is no. Used by <c>ask</c> and <c>chat</c>; with
/// <c>--json</c> nobody is asked and such calls are denied.
/// </summary>
internal sealed class TerminalApprover(IAnsiConsole console, TextReader input) : IToolApprover, IDisposable
{
    private readonly SemaphoreSlim _one = new(1, 1);

    public async ValueTask<bool> ApproveAsync(ToolApprovalRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Parallel tool calls ask one at a time.
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var server = request.Server is { } s ? $" (MCP server {s})" : "";
            console.MarkupLine($"[yellow]? Allow tool {Markup.Escape(request.Name)}{Markup.Escape(server)} with {Markup.Escape(request.Arguments)}? [[y/N]][/]");
            var line = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var approved = line?.Trim().ToLowerInvariant() is "y" or "yes";
            console.MarkupLine(approved ? "[green]  approved[/]" : "[yellow]  denied[/]");
            return approved;
        }
        finally
        {
            _one.Release();
        }
    }

    public void Dispose() => _one.Dispose();
}
