namespace Steward.Storage;

/// <summary>One run's evaluation: its quality score, the judge's usage and cost (apart from the run's), and any error.</summary>
internal sealed class EvaluationRecord
{
    public Guid RunId { get; set; }
    public string PresetName { get; set; } = "";
    public DateTime EvaluatedAt { get; set; }
    public double Score { get; set; }
    public bool Passed { get; set; }
    public double PassThreshold { get; set; }
    public double DurationMs { get; set; }
    public string? JudgeProvider { get; set; }
    public string? JudgeModel { get; set; }
    public long JudgeInputTokens { get; set; }
    public long JudgeCachedInputTokens { get; set; }
    public long JudgeOutputTokens { get; set; }
    public long JudgeReasoningTokens { get; set; }

    /// <summary>The judge's cost in billionths of a USD; <see langword="null"/> when unpriced or without a judge.</summary>
    public long? JudgeCostNanoUsd { get; set; }

    public bool JudgeSelfHosted { get; set; }
    public string? Error { get; set; }

    /// <summary>The batch (<c>steward eval</c>) the run was part of. Not a foreign key: an imported session may come without its batch.</summary>
    public Guid? BatchId { get; set; }

    public string? CaseId { get; set; }
    public List<EvaluationMetricRecord> Metrics { get; set; } = [];
}

/// <summary>One metric of an evaluation, as its evaluator reported it and as it entered the score.</summary>
internal sealed class EvaluationMetricRecord
{
    public long Id { get; set; }
    public Guid RunId { get; set; }
    public int Sequence { get; set; }
    public string Name { get; set; } = "";
    public string Evaluator { get; set; } = "";
    public double? Value { get; set; }
    public double? NormalizedScore { get; set; }
    public double Weight { get; set; }
    public string? Rating { get; set; }
    public bool Failed { get; set; }
    public string Reason { get; set; } = "";
    public string? Interpretation { get; set; }

    /// <summary>Diagnostics, one per line.</summary>
    public string? Diagnostics { get; set; }
}

/// <summary>A batch evaluation of a dataset: its totals, and the whole report as JSON so it can serve as a later baseline.</summary>
internal sealed class EvaluationBatchRecord
{
    public Guid Id { get; set; }
    public string Dataset { get; set; } = "";
    public string PresetName { get; set; } = "";
    public string? Judge { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime EndedAt { get; set; }
    public int Cases { get; set; }
    public int Passed { get; set; }
    public int Failed { get; set; }
    public double MeanScore { get; set; }
    public long? CostNanoUsd { get; set; }
    public long? JudgeCostNanoUsd { get; set; }
    public string ReportJson { get; set; } = "";
}
