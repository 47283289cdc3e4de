using System.Collections.Concurrent;
using Steward.Tools;

namespace Steward.Web.Chat;

/// <summary>
/// Chat's answer to a tool call that needs approval: the run waits on the request until the person clicks Approve or
/// Deny (or the run ends, or nobody answers within Steward:Tools:ApprovalTimeoutSeconds: denied). Thread-safe: the run
/// asks on its own thread, the click answers on the circuit's.
/// </summary>
internal sealed class ChatApprover : IToolApprover
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _pending = new(StringComparer.Ordinal);

    public async ValueTask<bool> ApproveAsync(ToolApprovalRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = _pending.GetOrAdd(request.Id, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            return await answer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(request.Id, out _);
        }
    }

    /// <summary>The person's answer; an unknown or already answered request is ignored.</summary>
    public bool Answer(string requestId, bool approved) =>
        _pending.TryGetValue(requestId, out var answer) && answer.TrySetResult(approved);
}
