using System.Text.Json.Serialization;
using Steward.Agents;

namespace Steward.Calls;

/// <summary>How a model call ended.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelCallStatus>))]
public enum ModelCallStatus
{
    /// <summary>The provider finished its answer (any finish reason, including a cut at the output cap).</summary>
    Completed,

    /// <summary>The provider failed, or its stream ended before the answer was finished.</summary>
    Failed,

    /// <summary>The caller gave up; what was generated until then is counted.</summary>
    Cancelled,
}

/// <summary>
/// One model call Steward made: for what, to which provider and model, what it used and cost, and how it ended. A run's
/// usage and cost are the sums of its calls'.
/// </summary>
public sealed record ModelCall
{
    /// <summary>The call's id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The run it was made for, if any.</summary>
    public Guid? RunId { get; init; }

    /// <summary>Its place among the calls of its scope, from 1.</summary>
    public int Sequence { get; init; }

    public required ModelCallPurpose Purpose { get; init; }

    /// <summary>The configured provider's name.</summary>
    public required string Provider { get; init; }

    /// <summary>The model asked for.</summary>
    public required string Model { get; init; }

    /// <summary>The model the provider said answered (e.g. a dated snapshot), if it said.</summary>
    public string? ResponseModel { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public TimeSpan Duration { get; init; }

    public TimeSpan? TimeToFirstToken { get; init; }

    /// <summary>Tokens used: cached input inside input, reasoning inside output.</summary>
    public RunUsage Usage { get; init; } = RunUsage.Zero;

    /// <summary>The provider reported no usage (or the call was cut short), so Steward counted it with the model's tokenizer.</summary>
    public bool UsageEstimated { get; init; }

    public RunCost Cost { get; init; } = RunCost.Unpriced;

    /// <summary>Served from Steward's response cache: nothing was used or paid.</summary>
    public bool FromCache { get; init; }

    /// <summary>The output cap sent with the call.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Why the model stopped (<c>stop</c>, <c>length</c>, <c>tool_calls</c>, <c>content_filter</c>), if it said.</summary>
    public string? FinishReason { get; init; }

    public ModelCallStatus Status { get; init; } = ModelCallStatus.Completed;

    /// <summary>Why a failed call failed, in a sentence fit to show.</summary>
    public string? Error { get; init; }

    /// <summary>Something the provider did that it should not have (e.g. reported more output than the cap it was sent).</summary>
    public string? Anomaly { get; init; }

    /// <summary>
    /// A call's <see cref="Anomaly"/> as a person is told it (the run's progress log, Chat, History): what happened and what
    /// Steward did with it. <paramref name="sequence"/> names the call in a run of several.
    /// </summary>
    public static string DescribeAnomaly(string anomaly, int? sequence = null) =>
        $"Provider anomaly{(sequence is { } n ? $" at model call {n}" : "")}: {anomaly} Its usage is recorded and counted against the budgets as reported.";

    /// <summary>The trace and span of the call, when traced.</summary>
    public string? TraceId { get; init; }

    public string? SpanId { get; init; }
}
