using System.Collections.Concurrent;

namespace Steward.Tools;

/// <summary>
/// One run's tools at work: the sources they returned, how each call ended (duration, error, approval), who approves,
/// and what went wrong setting them up (an MCP server that did not start). The runner reads it as the run goes; the
/// tools write to it. Thread-safe.
/// </summary>
public sealed class ToolRun
{
    // Made when the first tool reports: most runs (every gateway pass-through) call none, and the two collections were
    // ~1.5% of a gateway request's allocations.
    private ConcurrentDictionary<string, ToolCallOutcome>? _outcomes;
    private ConcurrentQueue<string>? _notes;

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
    public ToolCallOutcome? Outcome(string callId) => Volatile.Read(ref _outcomes)?.GetValueOrDefault(callId);

    internal void Record(string callId, ToolCallOutcome outcome) =>
        LazyInitializer.EnsureInitialized(ref _outcomes, static () => new(StringComparer.Ordinal))[callId] = outcome;

    /// <summary>Problems met setting up the tools, each once, for the progress log.</summary>
    public IReadOnlyList<string> TakeNotes()
    {
        var notes = new List<string>();
        if (Volatile.Read(ref _notes) is { } queue)
        {
            while (queue.TryDequeue(out var note))
            {
                notes.Add(note);
            }
        }

        return notes;
    }

    internal void Note(string message) => LazyInitializer.EnsureInitialized(ref _notes).Enqueue(message);
}

/// <summary>How one tool call ended.</summary>
/// <param name="Duration">How long it took, approval wait excluded.</param>
/// <param name="Error">Why it failed (what the model was told), or <see langword="null"/>.</param>
/// <param name="Approval"><c>approved</c>, <c>denied</c>, or <see langword="null"/> when no approval was needed.</param>
/// <param name="Server">The MCP server the tool belongs to, if any.</param>
public sealed record ToolCallOutcome(TimeSpan Duration, string? Error, string? Approval, string? Server);
