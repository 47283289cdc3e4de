namespace Steward.Costs;

/// <summary>Which runs a cost report covers. Every filter is optional; together they narrow (AND).</summary>
public sealed record CostFilter
{
    /// <summary>Runs started at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Runs started before this instant (exclusive).</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Only this agent preset (exact name).</summary>
    public string? Agent { get; init; }

    /// <summary>Only this model (exact id, as recorded on the run).</summary>
    public string? Model { get; init; }

    /// <summary>Only this provider (configured name).</summary>
    public string? Provider { get; init; }

    /// <summary>Only this session.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>Only runs made for this user id (exact).</summary>
    public string? UserId { get; init; }

    /// <summary>Only runs carrying this tag (exact).</summary>
    public string? Tag { get; init; }

    /// <summary>The user or tag filter as a facet of the facet rollups (<c>user</c> or <c>tag</c>, and its value), or <see langword="null"/>.</summary>
    internal (string Facet, string Value)? FacetFilter =>
        !string.IsNullOrEmpty(Tag) ? ("tag", Tag) : !string.IsNullOrEmpty(UserId) ? ("user", UserId) : null;

    /// <summary>Whether the filter names both a user and a tag, which no rollup holds together (those runs are read through their indexes).</summary>
    internal bool CrossesFacets => !string.IsNullOrEmpty(Tag) && !string.IsNullOrEmpty(UserId);
}

/// <summary>
/// Tokens in exclusive buckets (they add up to the total, nothing counted twice): input not from cache, cached
/// input, output that is not reasoning, reasoning.
/// </summary>
public sealed record TokenBreakdown(long UncachedInput, long CachedInput, long NonReasoningOutput, long Reasoning)
{
    /// <summary>All tokens.</summary>
    public long Total => UncachedInput + CachedInput + NonReasoningOutput + Reasoning;
}

/// <summary>
/// Cost and usage of a set of runs. <see cref="UnpricedRuns"/> used tokens on a model with no price: their cost
/// is unknown and is <em>not</em> in <see cref="CostUsd"/>, which is the cost of the priced runs only. Runs that
/// used no tokens (refused by a budget, failed before the model answered) are neither priced nor unpriced.
/// </summary>
public sealed record CostSummary(long Runs, long PricedRuns, long UnpricedRuns, decimal CostUsd, TokenBreakdown Tokens)
{
    /// <summary>No runs.</summary>
    public static CostSummary Empty { get; } = new(0, 0, 0, 0m, new TokenBreakdown(0, 0, 0, 0));

    /// <summary>Whether some cost is unknown, so <see cref="CostUsd"/> is a lower bound.</summary>
    public bool HasUnpriced => UnpricedRuns > 0;

    /// <summary>The sum of this summary and <paramref name="other"/> (runs, cost and every token kind).</summary>
    public CostSummary Add(CostSummary other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new(Runs + other.Runs, PricedRuns + other.PricedRuns, UnpricedRuns + other.UnpricedRuns, CostUsd + other.CostUsd,
            new TokenBreakdown(Tokens.UncachedInput + other.Tokens.UncachedInput, Tokens.CachedInput + other.Tokens.CachedInput,
                Tokens.NonReasoningOutput + other.Tokens.NonReasoningOutput, Tokens.Reasoning + other.Tokens.Reasoning));
    }
}

/// <summary>Cost of one agent preset's runs.</summary>
public sealed record AgentCost(string Agent, CostSummary Summary);

/// <summary>Cost of one model's runs on one provider.</summary>
public sealed record ModelCost(string Provider, string Model, CostSummary Summary);

/// <summary>Cost of the runs started in one day or week (<see cref="Start"/> is its first day, in the report's time zone).</summary>
public sealed record PeriodCost(DateOnly Start, CostSummary Summary);

/// <summary>
/// A cost report: totals and the same figures by agent, by model, by day and by week (weeks start on Monday), and what
/// the LLM-as-judge calls that scored those answers cost, as a series of their own.
/// </summary>
public sealed record CostReport(
    CostFilter Filter,
    string TimeZone,
    CostSummary Totals,
    IReadOnlyList<AgentCost> ByAgent,
    IReadOnlyList<ModelCost> ByModel,
    IReadOnlyList<PeriodCost> ByDay,
    IReadOnlyList<PeriodCost> ByWeek)
{
    /// <summary>What judge calls cost in total (<see cref="CostSummary.Runs"/> counts calls); not part of <see cref="Totals"/>.</summary>
    public CostSummary Judges { get; init; } = CostSummary.Empty;

    /// <summary>What judge calls cost by day.</summary>
    public IReadOnlyList<PeriodCost> JudgesByDay { get; init; } = [];

    /// <summary>
    /// The same runs by how they ended, when the caller asked for it (<c>steward costs</c> does): a stopped, failed or
    /// refused run that generated output is usage, counted in <see cref="Totals"/> and shown here under its status.
    /// </summary>
    public IReadOnlyList<Analytics.RunStatusUsage>? ByStatus { get; init; }
}
