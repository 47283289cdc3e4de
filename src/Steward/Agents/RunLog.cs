using Microsoft.Extensions.Logging;
using Steward.Storage;

namespace Steward.Agents;

/// <summary>
/// One run's progress: sends each event to the listener and keeps the stage events for the stored progress log
/// (text deltas are sent, not stored: the answer is stored whole). A listener that throws is logged and ignored,
/// so a broken UI cannot break a run.
/// </summary>
internal sealed partial class RunLog(Guid runId, Func<RunProgress, ValueTask>? listener, TimeProvider time, ILogger logger, System.Diagnostics.Activity? runActivity = null)
{
    private readonly long _started = time.GetTimestamp();
    private readonly List<RunEventRecord> _stored = [];

    public RunUsage Usage { get; set; } = RunUsage.Zero;
    public TimeSpan? TimeToFirstToken { get; set; }
    public RunCost? Cost { get; set; }
    public RunStage Stage { get; private set; } = RunStage.Initializing;

    public TimeSpan Elapsed => time.GetElapsedTime(_started);

    public IReadOnlyList<RunEventRecord> StoredEvents => _stored;

    public ValueTask StageAsync(RunStage stage, string message, AgentResponse? response = null)
    {
        Stage = stage;
        // Each stage is an event on the run span, so a trace shows when the pipeline moved on.
        runActivity?.AddEvent(new System.Diagnostics.ActivityEvent(stage.ToString(), time.GetUtcNow(),
            new System.Diagnostics.ActivityTagsCollection { [Telemetry.StewardTelemetry.StageEventAttribute] = stage.ToString() }));
        return StoreAndSendAsync(Create(stage, message) with { Response = response });
    }

    /// <summary>A note on the current stage (e.g. a budget alert), sent and stored in the progress log.</summary>
    public ValueTask NoteAsync(string message)
    {
        return StoreAndSendAsync(Create(Stage, message));
    }

    /// <summary>The answer's quality, sent and stored once evaluation is done.</summary>
    public ValueTask QualityAsync(QualityResult quality)
    {
        var message = quality.Error is { } error && quality.Metrics.Count == 0
            ? "Evaluation failed: " + error
            : FormattableString.Invariant($"Quality {quality.Score:0.#}/100 ({(quality.Passed ? "passed" : "below")} the pass mark of {quality.PassThreshold:0.#}).");
        return StoreAndSendAsync(Create(RunStage.Evaluating, message) with { Quality = quality });
    }

    public ValueTask DeltaAsync(string text) => SendAsync(Create(RunStage.Running, "") with { TextDelta = text });

    public ValueTask ToolCallAsync(ToolCallProgress call)
    {
        var message = call.Completed ? $"Tool {call.Name} returned." : $"Calling tool {call.Name}.";
        return StoreAndSendAsync(Create(RunStage.Running, message) with { ToolCall = call });
    }

    public RunMetrics Metrics => new(Usage, Elapsed, TimeToFirstToken, Cost);

    private RunProgress Create(RunStage stage, string message) => new(runId, stage, message, time.GetUtcNow(), Metrics);

    /// <summary>Keeps the event for the stored progress log, then sends it.</summary>
    private ValueTask StoreAndSendAsync(RunProgress progress)
    {
        _stored.Add(new RunEventRecord
        {
            RunId = runId, Sequence = _stored.Count + 1, Stage = progress.Stage.ToString(), Message = progress.Message, Timestamp = progress.Timestamp.UtcDateTime,
        });
        return SendAsync(progress);
    }

    private async ValueTask SendAsync(RunProgress progress)
    {
        if (listener is null)
        {
            return;
        }

        try
        {
            await listener(progress).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogListenerFailed(ex, runId);
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "A progress listener of run {RunId} threw; the run goes on.")]
    private partial void LogListenerFailed(Exception exception, Guid runId);
}
