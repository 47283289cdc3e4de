using Microsoft.Extensions.Logging;
using Steward.Storage;

namespace Steward.Agents;

/// <summary>
/// One run's progress events: sends each to the listener and keeps the stage events for the stored progress log
/// (text deltas are sent, not kept: the answer is stored whole). The metrics an event carries come from the runner,
/// which owns the run's state. A listener that throws is logged and ignored, so a broken UI cannot break a run.
/// </summary>
internal sealed partial class RunLog(
    Guid runId, Func<RunProgress, ValueTask>? listener, Func<RunMetrics> metrics, TimeProvider time, ILogger logger, System.Diagnostics.Activity? runActivity = null)
{
    private readonly List<RunEventRecord> _stored = [];

    public RunStage Stage { get; private set; } = RunStage.Initializing;

    public IReadOnlyList<RunEventRecord> StoredEvents => _stored;

    /// <summary>Moves to a stage: the event is kept and sent.</summary>
    public ValueTask StageAsync(RunStage stage, string message) => SendAsync(Keep(stage, message));

    /// <summary>
    /// Moves to a stage and keeps its event without sending it yet: the terminal event is sent once the run is stored,
    /// so whoever hears it can rely on what it says.
    /// </summary>
    public RunProgress Keep(RunStage stage, string message, AgentResponse? response = null)
    {
        Stage = stage;
        // Each stage is an event on the run span, so a trace shows when the pipeline moved on.
        runActivity?.AddEvent(new System.Diagnostics.ActivityEvent(stage.ToString(), time.GetUtcNow(),
            new System.Diagnostics.ActivityTagsCollection { [Telemetry.StewardTelemetry.StageEventAttribute] = stage.ToString() }));
        return Store(Create(stage, message) with { Response = response });
    }

    /// <summary>A note on the current stage (e.g. a budget alert), sent and kept in the progress log.</summary>
    public ValueTask NoteAsync(string message) => SendAsync(Store(Create(Stage, message)));

    public ValueTask DeltaAsync(string text) => SendAsync(Create(RunStage.Running, "") with { TextDelta = text });

    public ValueTask ToolCallAsync(ToolCallProgress call)
    {
        var message = !call.Completed ? $"Calling tool {call.Name}."
            : call.Error is { } error ? $"Tool {call.Name} failed: {error}"
            : FormattableString.Invariant($"Tool {call.Name} returned in {call.Duration?.TotalMilliseconds ?? 0:0} ms.");
        return SendAsync(Store(Create(RunStage.Running, message) with { ToolCall = call }));
    }

    /// <summary>The model asked the caller to run one of its functions: sent only (the tool call itself is in the log).</summary>
    public ValueTask FunctionCallAsync(Microsoft.Extensions.AI.FunctionCallContent call) =>
        SendAsync(Create(RunStage.Running, "") with { FunctionCall = call });

    /// <summary>A tool call waits for a person's approval.</summary>
    public ValueTask ApprovalAsync(Tools.ToolApprovalRequest request) =>
        SendAsync(Store(Create(RunStage.Running, $"Tool {request.Name} needs approval to run.") with { Approval = request }));

    /// <summary>The answer's quality, after delivery: sent only (the evaluation stores its own line in the progress log).</summary>
    public ValueTask QualityAsync(QualityResult quality) => SendAsync(Create(RunStage.Evaluating, quality.Describe()) with { Quality = quality });

    private RunProgress Create(RunStage stage, string message) => new(runId, stage, message, time.GetUtcNow(), metrics());

    private RunProgress Store(RunProgress progress)
    {
        _stored.Add(new RunEventRecord
        {
            RunId = runId, Sequence = _stored.Count + 1, Stage = progress.Stage.ToString(), Message = progress.Message, Timestamp = progress.Timestamp.UtcDateTime,
        });
        return progress;
    }

    public async ValueTask SendAsync(RunProgress progress)
    {
        if (listener is null)
        {
            return;
        }

        try
        {
            await listener(progress).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Even a cancellation here is the listener's own (a closed page), not the run's.
            LogListenerFailed(ex, runId);
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "A progress listener of run {RunId} threw; the run goes on.")]
    private partial void LogListenerFailed(Exception exception, Guid runId);
}
