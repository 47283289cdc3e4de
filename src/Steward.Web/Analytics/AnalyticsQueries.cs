using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Costs;
using Steward.Storage;

namespace Steward.Web.Analytics;

/// <summary>Latency percentiles of finished runs, in milliseconds; <see langword="null"/> when no run has a duration.</summary>
internal sealed record LatencyPercentiles(long Runs, double? P50, double? P90, double? P95, double? P99);

/// <summary>One agent's quality on one day (UTC): how many answers were scored, their mean score (0–100) and pass rate.</summary>
internal sealed record QualityDay(string Agent, DateOnly Day, int Evaluations, double MeanScore, double PassRate);

/// <summary>The Analytics page's figures, each computed by the database over the runs the filter selects.</summary>
internal sealed record AnalyticsSnapshot(
    CostReport Costs, LatencyPercentiles Latency, IReadOnlyList<QualityDay> Quality, IReadOnlyList<string> Agents, IReadOnlyList<string> Models);

/// <summary>
/// Reads what the Analytics page draws. Every figure is aggregated by the database: costs in one grouped pass over the
/// runs (by UTC day, agent, provider and model: a few hundred rows however many runs there are, then rolled up),
/// latency percentiles by rank, quality per agent and day. The four queries run side by side on their own
/// connections. Thread-safe.
/// </summary>
internal sealed class AnalyticsQueries(IDbContextFactory<StewardDbContext> contexts, CostReports reports)
{
    public async Task<AnalyticsSnapshot> GetAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        // Microsoft.Data.Sqlite runs "async" commands synchronously, so only separate threads make them overlap.
        var costs = Task.Run(() => GetCostsAsync(filter, cancellationToken), cancellationToken);
        var latency = Task.Run(() => GetLatencyAsync(filter, cancellationToken), cancellationToken);
        var quality = Task.Run(() => GetQualityTrendAsync(filter, cancellationToken), cancellationToken);
        var choices = Task.Run(() => GetFilterChoicesAsync(cancellationToken), cancellationToken);
        await Task.WhenAll(costs, latency, quality, choices).ConfigureAwait(false);
        var (agents, models) = await choices.ConfigureAwait(false);
        return new AnalyticsSnapshot(await costs.ConfigureAwait(false), await latency.ConfigureAwait(false), await quality.ConfigureAwait(false), agents, models);
    }

    /// <summary>
    /// The cost report over the filtered runs, with days in UTC (as the quality trend's), from one grouped query: the
    /// same figures <see cref="CostReports"/> computes in four passes.
    /// </summary>
    public async Task<CostReport> GetCostsAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var groups = await GetCostGroupsAsync(filter, cancellationToken).ConfigureAwait(false);
        var judges = await reports.GetJudgesByDayAsync(filter, TimeZoneInfo.Utc, cancellationToken).ConfigureAwait(false);

        static CostSummary Sum(IEnumerable<CostGroup> rows) => rows.Select(r => r.ToSummary()).Aggregate(CostSummary.Empty, (a, b) => a.Add(b));
        var byDay = groups.GroupBy(g => DateOnly.ParseExact(g.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture)).Select(g => new PeriodCost(g.Key, Sum(g))).OrderBy(d => d.Start).ToArray();
        var byWeek = byDay.GroupBy(d => d.Start.AddDays(-(((int)d.Start.DayOfWeek + 6) % 7)))
            .Select(g => new PeriodCost(g.Key, g.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)))).OrderBy(w => w.Start).ToArray();
        return new CostReport(
            filter, TimeZoneInfo.Utc.Id, Sum(groups),
            [.. groups.GroupBy(g => g.Agent, StringComparer.Ordinal).Select(g => new AgentCost(g.Key, Sum(g)))
                .OrderByDescending(a => a.Summary.CostUsd).ThenBy(a => a.Agent, StringComparer.Ordinal)],
            [.. groups.GroupBy(g => (g.Provider, g.Model)).Select(g => new ModelCost(g.Key.Provider, g.Key.Model, Sum(g)))
                .OrderByDescending(m => m.Summary.CostUsd).ThenBy(m => m.Provider, StringComparer.Ordinal).ThenBy(m => m.Model, StringComparer.Ordinal)],
            byDay, byWeek)
        {
            Judges = judges.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)),
            JudgesByDay = judges,
        };
    }

    /// <summary>
    /// Cost sums by UTC day, agent, provider and model. The day is the first ten characters of the stored timestamp
    /// (EF Core's SQLite format is ISO 8601), which SQLite compares and cuts far faster than it runs the date
    /// functions LINQ's <c>.Date</c> becomes; every value is a parameter.
    /// </summary>
    internal async Task<IReadOnlyList<CostGroup>> GetCostGroupsAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        var (where, parameters) = RunConditions(filter);
        var sql = $"""
            SELECT substr("StartedAt", 1, 10) AS "Day", "PresetName" AS "Agent", "Provider", "Model", {CostSums}
            FROM "runs"
            {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
            GROUP BY "Day", "PresetName", "Provider", "Model"
            """;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Database.SqlQueryRaw<CostGroup>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sums a <see cref="CostGroup"/> holds besides its grouping columns, over the runs of a group.</summary>
    internal const string CostSums = """
        COUNT(*) AS "Runs",
                   COUNT("CostNanoUsd") AS "PricedRuns",
                   SUM("CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0) AS "UnpricedRuns",
                   COALESCE(SUM("CostNanoUsd"), 0) AS "CostNanoUsd",
                   SUM("InputTokens" - "CachedInputTokens") AS "UncachedInput",
                   SUM("CachedInputTokens") AS "CachedInput",
                   SUM("OutputTokens" - "ReasoningTokens") AS "NonReasoningOutput",
                   SUM("ReasoningTokens") AS "Reasoning"
        """;

    /// <summary>The filter as SQL conditions on <c>runs</c>, each value a parameter ({0}, {1}, … for SqlQueryRaw).</summary>
    internal static (List<string> Where, List<object> Parameters) RunConditions(CostFilter filter)
    {
        var where = new List<string>();
        var parameters = new List<object>();
        void Add(string column, string op, object value)
        {
            where.Add($"\"{column}\" {op} {{{parameters.Count}}}");
            parameters.Add(value);
        }

        if (filter.From is { } from)
        {
            Add("StartedAt", ">=", from.UtcDateTime);
        }

        if (filter.To is { } to)
        {
            Add("StartedAt", "<", to.UtcDateTime);
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            Add("PresetName", "=", filter.Agent);
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            Add("Model", "=", filter.Model);
        }

        if (!string.IsNullOrEmpty(filter.Provider))
        {
            Add("Provider", "=", filter.Provider);
        }

        if (filter.SessionId is { } session)
        {
            // EF Core keeps GUIDs as upper-case text; a bound Guid would be a blob and match nothing.
            Add("SessionId", "=", session.ToString().ToUpperInvariant());
        }

        return (where, parameters);
    }

    /// <summary>The agents and models that have runs, for the filter pickers.</summary>
    public async Task<(IReadOnlyList<string> Agents, IReadOnlyList<string> Models)> GetFilterChoicesAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var agents = await db.Runs.AsNoTracking().Select(r => r.PresetName).Distinct().OrderBy(a => a).ToListAsync(cancellationToken).ConfigureAwait(false);
        var models = await db.Runs.AsNoTracking().Select(r => r.Model).Distinct().OrderBy(m => m).ToListAsync(cancellationToken).ConfigureAwait(false);
        return (agents, models);
    }

    /// <summary>
    /// Mean quality per agent and UTC day, grouped by the database. Evaluations carry their agent, so only a model or
    /// provider filter needs runs; days are those of the evaluation (moments after the run's start).
    /// </summary>
    public async Task<IReadOnlyList<QualityDay>> GetQualityTrendAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(filter.Model) && string.IsNullOrEmpty(filter.Provider) && filter.SessionId is null)
        {
            return await GetQualityByEvaluationAsync(db, filter, cancellationToken).ConfigureAwait(false);
        }

        var evaluations = db.Evaluations.AsNoTracking();
        if (!string.IsNullOrEmpty(filter.Model) || !string.IsNullOrEmpty(filter.Provider) || filter.SessionId is not null)
        {
            var runs = CostReports.Filtered(db, filter with { From = null, To = null, Agent = null }).Select(r => r.Id);
            evaluations = evaluations.Where(e => runs.Contains(e.RunId));
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            evaluations = evaluations.Where(e => e.PresetName == filter.Agent);
        }

        if (filter.From is { } from)
        {
            var utc = from.UtcDateTime;
            evaluations = evaluations.Where(e => e.EvaluatedAt >= utc);
        }

        if (filter.To is { } to)
        {
            var utc = to.UtcDateTime;
            evaluations = evaluations.Where(e => e.EvaluatedAt < utc);
        }

        var rows = await evaluations
            .GroupBy(e => new { e.PresetName, Day = e.EvaluatedAt.Date })
            .Select(g => new { g.Key.PresetName, g.Key.Day, Count = g.Count(), Mean = g.Average(x => x.Score), Passed = g.Count(x => x.Passed) })
            .OrderBy(g => g.PresetName).ThenBy(g => g.Day)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new QualityDay(r.PresetName, DateOnly.FromDateTime(r.Day), r.Count, Math.Round(r.Mean, 1), (double)r.Passed / r.Count)).ToArray();
    }

    /// <summary>
    /// Nearest-rank percentiles of completed runs' durations: the database counts them, then fetches the value at each
    /// rank along the (Status, DurationMs) index, so no query sorts the runs.
    /// </summary>
    // Evaluations alone (agent and dates are theirs), days cut from the stored timestamp as in the cost query.
    private static async Task<IReadOnlyList<QualityDay>> GetQualityByEvaluationAsync(StewardDbContext db, CostFilter filter, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var parameters = new List<object>();
        void Add(string condition, object value)
        {
            where.Add(string.Format(CultureInfo.InvariantCulture, condition, "{" + parameters.Count.ToString(CultureInfo.InvariantCulture) + "}"));
            parameters.Add(value);
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            Add("\"PresetName\" = {0}", filter.Agent);
        }

        if (filter.From is { } from)
        {
            Add("\"EvaluatedAt\" >= {0}", from.UtcDateTime);
        }

        if (filter.To is { } to)
        {
            Add("\"EvaluatedAt\" < {0}", to.UtcDateTime);
        }

        var sql = $"""
            SELECT "PresetName" AS "Agent", substr("EvaluatedAt", 1, 10) AS "Day", COUNT(*) AS "Evaluations", AVG("Score") AS "MeanScore", SUM("Passed") AS "Passed"
            FROM "evaluations"
            {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))}
            GROUP BY "PresetName", "Day"
            ORDER BY "PresetName", "Day"
            """;
        var rows = await db.Database.SqlQueryRaw<QualityGroup>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new QualityDay(r.Agent, DateOnly.ParseExact(r.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture), (int)r.Evaluations,
            Math.Round(r.MeanScore, 1), (double)r.Passed / r.Evaluations)).ToArray();
    }

    public async Task<LatencyPercentiles> GetLatencyAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var unfiltered = filter is { From: null, To: null, Agent: null, Model: null, Provider: null, SessionId: null };
        if (!unfiltered)
        {
            return await GetFilteredLatencyAsync(db, filter, cancellationToken).ConfigureAwait(false);
        }

        // Unfiltered, the (Status, DurationMs) index hands completed runs over in order: a rank is a walk along it.
        var completed = nameof(RunStatus.Completed);
        var durations = db.Runs.AsNoTracking().Where(r => r.Status == completed && r.DurationMs != null);
        var count = await durations.LongCountAsync(cancellationToken).ConfigureAwait(false);
        if (count == 0)
        {
            return new LatencyPercentiles(0, null, null, null, null);
        }

        async Task<double?> AtAsync(int percent)
        {
            var rank = Math.Max(1, (count * percent + 99) / 100);
            return await durations.OrderBy(r => r.DurationMs).Skip((int)(rank - 1)).Select(r => r.DurationMs).FirstAsync(cancellationToken).ConfigureAwait(false);
        }

        return new LatencyPercentiles(count, await AtAsync(50).ConfigureAwait(false), await AtAsync(90).ConfigureAwait(false),
            await AtAsync(95).ConfigureAwait(false), await AtAsync(99).ConfigureAwait(false));
    }

    // Filtered, walking that index would look up nearly every run to test the filter; instead the filter narrows
    // first (the "+ ''" keeps SQLite off the Status index) and one window query numbers what matched, in one sort.
    private static async Task<LatencyPercentiles> GetFilteredLatencyAsync(StewardDbContext db, CostFilter filter, CancellationToken cancellationToken)
    {
        var (where, parameters) = RunConditions(filter);
        where.Add("\"Status\" || '' = 'Completed'");
        where.Add("\"DurationMs\" IS NOT NULL");
        var sql = $"""
            SELECT n AS "Runs",
                   MAX(CASE WHEN rn = MAX(1, (n * 50 + 99) / 100) THEN d END) AS "P50",
                   MAX(CASE WHEN rn = MAX(1, (n * 90 + 99) / 100) THEN d END) AS "P90",
                   MAX(CASE WHEN rn = MAX(1, (n * 95 + 99) / 100) THEN d END) AS "P95",
                   MAX(CASE WHEN rn = MAX(1, (n * 99 + 99) / 100) THEN d END) AS "P99"
            FROM (SELECT "DurationMs" AS d, ROW_NUMBER() OVER (ORDER BY "DurationMs") AS rn, COUNT(*) OVER () AS n
                  FROM "runs" WHERE {string.Join(" AND ", where)})
            GROUP BY n
            """;
        var rows = await db.Database.SqlQueryRaw<LatencyRow>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows is [var row] ? new LatencyPercentiles(row.Runs, row.P50, row.P90, row.P95, row.P99) : new LatencyPercentiles(0, null, null, null, null);
    }

    internal sealed class LatencyRow
    {
        public long Runs { get; init; }
        public double? P50 { get; init; }
        public double? P90 { get; init; }
        public double? P95 { get; init; }
        public double? P99 { get; init; }
    }

    internal sealed class QualityGroup
    {
        public string Agent { get; init; } = "";
        public string Day { get; init; } = "";
        public long Evaluations { get; init; }
        public double MeanScore { get; init; }
        public long Passed { get; init; }
    }

    internal sealed class CostGroup
    {
        public string Day { get; init; } = "";
        public string Agent { get; init; } = "";
        public string Provider { get; init; } = "";
        public string Model { get; init; } = "";
        public long Runs { get; init; }
        public long PricedRuns { get; init; }
        public long UnpricedRuns { get; init; }
        public long CostNanoUsd { get; init; }
        public long UncachedInput { get; init; }
        public long CachedInput { get; init; }
        public long NonReasoningOutput { get; init; }
        public long Reasoning { get; init; }

        public CostSummary ToSummary() =>
            new(Runs, PricedRuns, UnpricedRuns, NanoUsd.ToUsd(CostNanoUsd), new TokenBreakdown(UncachedInput, CachedInput, NonReasoningOutput, Reasoning));
    }
}
