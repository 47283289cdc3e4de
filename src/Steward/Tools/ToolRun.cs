using System.Collections.Concurrent;

namespace Steward.Tools;

/// <summary>
/// One run's tools at work: the sources they returned, how each call ended (duration, error, approval), who approves,
/// and what went wrong setting them up (an MCP server that did not start). The runner reads it as the run goes; the
/// tools write to it. Thread-safe.
/// </summary>
public sealed class ToolRun
{
    private readonly ConcurrentDictionary<string, ToolCallOutcome> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _notes = new();

    internal ToolRun(ToolOptions options, IToolApprover? approver, Func<ToolApprovalRequest, ValueTask>? onApprovalRequested, IReadOnlyCollection<string> secrets)
    {
        Options = options;
        Approver = approver;
        OnApprovalRequested = onApprovalRequested;
        Secrets = secrets;
    }

    /// <summary>The sources the run's tools returned.</summary>
    public SourceLedger Sources { get; } = new();

    internal ToolOptions Options { get; }

    internal IToolApprover? Approver { get; }

    internal Func<ToolApprovalRequest, ValueTask>? OnApprovalRequested { get; }

    internal IReadOnlyCollection<string> Secrets { get; }

    /// <summary>How a call ended, once it has; <see langword="null"/> for a call the run's own tools did not make.</summary>
    public ToolCallOutcome? Outcome(string callId) => _outcomes.GetValueOrDefault(callId);

    internal void Record(string callId, ToolCallOutcome outcome) => _outcomes[callId] = outcome;

    /// <summary>Problems met setting up the tools, each once, for the progress log.</summary>
    public IReadOnlyList<string> TakeNotes()
    {
        var notes = new List<string>();
        while (_notes.TryDequeue(out var note))
        {
            notes.Add(note);
        }

        return notes;
    }

    internal void Note(string message) => _notes.Enqueue(message);
}

/// <summary>How one tool call ended.</summary>
/// <param name="Duration">How long it took, approval wait excluded.</param>
/// <param name="Error">Why it failed (what the model was told), or <see langword="null"/>.</param>
/// <param name="Approval"><c>approved</c>, <c>denied</c>, or <see langword="null"/> when no approval was needed.</param>
/// <param name="Server">The MCP server the tool belongs to, if any.</param>
public sealed record ToolCallOutcome(TimeSpan Duration, string? Error, string? Approval, string? Server);
