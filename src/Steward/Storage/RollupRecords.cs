namespace Steward.Storage;

// Rollups: sums kept by the database's own triggers (Storage/Sqlite|Postgres/Migrations/*ReportRollupTriggers) in the
// transaction of every write to runs, evaluations, metrics and feedback, whichever code path writes (the run writer, EF,
// imports, deletes and their cascades). Reports read these instead of the raw rows, so their cost grows with hours ×
// agents × models, not with runs. Hours are UTC: every whole-hour time zone sums them into its own days exactly.

/// <summary>The runs that started in one UTC hour on one agent, provider and model.</summary>
internal sealed class RunRollupRecord
{
    /// <summary>The UTC hour the runs started in (minutes and seconds zero).</summary>
    public DateTime Hour { get; set; }
    public string PresetName { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public long Runs { get; set; }
    public long Completed { get; set; }
    public long Failed { get; set; }
    public long PricedRuns { get; set; }
    public long UnpricedRuns { get; set; }
    public long CostNanoUsd { get; set; }
    public long UncachedInput { get; set; }
    public long CachedInput { get; set; }
    public long NonReasoningOutput { get; set; }
    public long Reasoning { get; set; }
}

/// <summary>
/// The runs that started on one UTC day on one agent, provider and model and ended with one status, under one facet:
/// <c>""</c> (every run once, value <c>""</c>), <c>user</c> (the run's user id) or <c>tag</c> (each of its tags). What
/// Analytics shows by status, by user and by tag, and every report of a user or tag filter, is summed from these.
/// By day, not hour: a user's runs by the hour need nearly a row per run. A report whose days begin in another zone reads
/// the user's or tag's hours from <c>facet_hour_rollups</c> (and its quality from <c>facet_quality_hour_rollups</c>), which
/// the triggers keep beside these (migration FacetHourRollups; raw SQL only, not in the EF model).
/// </summary>
internal sealed class FacetRollupRecord
{
    /// <summary><c>""</c>, <c>user</c> or <c>tag</c>.</summary>
    public string Facet { get; set; } = "";

    /// <summary>The user id or tag (<c>""</c> for facet <c>""</c>).</summary>
    public string Value { get; set; } = "";

    /// <summary>The UTC day the runs started on (midnight).</summary>
    public DateTime Day { get; set; }
    public string PresetName { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public string Status { get; set; } = "";
    public long Runs { get; set; }
    public long PricedRuns { get; set; }
    public long UnpricedRuns { get; set; }
    public long CostNanoUsd { get; set; }
    public long UncachedInput { get; set; }
    public long CachedInput { get; set; }
    public long NonReasoningOutput { get; set; }
    public long Reasoning { get; set; }

    /// <summary>Runs rated thumbs up.</summary>
    public long FeedbackUp { get; set; }

    /// <summary>Runs rated thumbs down.</summary>
    public long FeedbackDown { get; set; }
}

/// <summary>How many runs (any status) of one UTC day, agent, provider and model first streamed after a time in one latency bucket.</summary>
internal sealed class FirstTokenRollupRecord
{
    /// <summary>The UTC day the runs started on (midnight).</summary>
    public DateTime Day { get; set; }
    public string PresetName { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";

    /// <summary>The bucket (<see cref="Analytics.LatencyBuckets"/>) of the time to first token.</summary>
    public int Bucket { get; set; }
    public long Runs { get; set; }
}

/// <summary>How many completed runs of one UTC day, agent, provider and model took a duration in one latency bucket.</summary>
internal sealed class LatencyRollupRecord
{
    /// <summary>The UTC day the runs started on (midnight).</summary>
    public DateTime Day { get; set; }
    public string PresetName { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";

    /// <summary>The bucket (<see cref="Analytics.LatencyBuckets"/>): 0 below 1 ms, then 16 per doubling.</summary>
    public int Bucket { get; set; }
    public long Runs { get; set; }
}

/// <summary>The evaluations made in one UTC hour of one agent's answers on one provider and model.</summary>
internal sealed class QualityRollupRecord
{
    /// <summary>The UTC hour the answers were evaluated in.</summary>
    public DateTime Hour { get; set; }

    /// <summary>The agent, as the evaluation names it.</summary>
    public string PresetName { get; set; } = "";

    /// <summary>The provider of the scored run.</summary>
    public string Provider { get; set; } = "";

    /// <summary>The model of the scored run.</summary>
    public string Model { get; set; } = "";
    public long Evaluations { get; set; }
    public double ScoreSum { get; set; }
    public long Passed { get; set; }
    public long Errors { get; set; }
    public long JudgeCostNanoUsd { get; set; }
}

/// <summary>One evaluation metric's normalized scores over the evaluations of a <see cref="QualityRollupRecord"/>.</summary>
internal sealed class QualityMetricRollupRecord
{
    public DateTime Hour { get; set; }
    public string PresetName { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Model { get; set; } = "";
    public string Name { get; set; } = "";
    public double Sum { get; set; }
    public long Count { get; set; }
}
