using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
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
internal sealed class AnalyticsQueries(IDbContextFactory<StewardDbContext> contexts)
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
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var groups = await CostReports.Filtered(db, filter)
            .GroupBy(r => new { Day = r.StartedAt.Date, r.PresetName, r.Provider, r.Model })
            .Select(g => new CostGroup
            {
                Day = g.Key.Day,
                Agent = g.Key.PresetName,
                Provider = g.Key.Provider,
                Model = g.Key.Model,
                Runs = g.LongCount(),
                PricedRuns = g.LongCount(r => r.CostNanoUsd != null),
                UnpricedRuns = g.LongCount(r => r.CostNanoUsd == null && r.InputTokens + r.OutputTokens > 0),
                CostNanoUsd = g.Sum(r => r.CostNanoUsd) ?? 0,
                UncachedInput = g.Sum(r => r.InputTokens - r.CachedInputTokens),
                CachedInput = g.Sum(r => r.CachedInputTokens),
                NonReasoningOutput = g.Sum(r => r.OutputTokens - r.ReasoningTokens),
                Reasoning = g.Sum(r => r.ReasoningTokens),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        static CostSummary Sum(IEnumerable<CostGroup> rows) => rows.Select(r => r.ToSummary()).Aggregate(CostSummary.Empty, (a, b) => a.Add(b));
        var byDay = groups.GroupBy(g => DateOnly.FromDateTime(g.Day)).Select(g => new PeriodCost(g.Key, Sum(g))).OrderBy(d => d.Start).ToArray();
        var byWeek = byDay.GroupBy(d => d.Start.AddDays(-(((int)d.Start.DayOfWeek + 6) % 7)))
            .Select(g => new PeriodCost(g.Key, g.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)))).OrderBy(w => w.Start).ToArray();
        return new CostReport(
            filter, TimeZoneInfo.Utc.Id, Sum(groups),
            [.. groups.GroupBy(g => g.Agent, StringComparer.Ordinal).Select(g => new AgentCost(g.Key, Sum(g)))
                .OrderByDescending(a => a.Summary.CostUsd).ThenBy(a => a.Agent, StringComparer.Ordinal)],
            [.. groups.GroupBy(g => (g.Provider, g.Model)).Select(g => new ModelCost(g.Key.Provider, g.Key.Model, Sum(g)))
                .OrderByDescending(m => m.Summary.CostUsd).ThenBy(m => m.Provider, StringComparer.Ordinal).ThenBy(m => m.Model, StringComparer.Ordinal)],
            byDay, byWeek);
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

    public async Task<LatencyPercentiles> GetLatencyAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var where = new StringBuilder("\"DurationMs\" IS NOT NULL AND \"Status\" = 'Completed'");
        var parameters = new List<SqliteParameter>();
        void Add(string condition, string name, object value)
        {
            where.Append(" AND ").Append(condition);
            parameters.Add(new SqliteParameter(name, value));
        }

        if (filter.From is { } from)
        {
            Add("\"StartedAt\" >= @from", "@from", from.UtcDateTime);
        }

        if (filter.To is { } to)
        {
            Add("\"StartedAt\" < @to", "@to", to.UtcDateTime);
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            Add("\"PresetName\" = @agent", "@agent", filter.Agent);
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            Add("\"Model\" = @model", "@model", filter.Model);
        }

        if (!string.IsNullOrEmpty(filter.Provider))
        {
            Add("\"Provider\" = @provider", "@provider", filter.Provider);
        }

        // Nearest-rank percentiles: the row whose rank is ceil(p * n).
        var sql = $"""
            SELECT n AS "Runs",
                   MAX(CASE WHEN rn = MAX(1, CAST((n * 50 + 99) / 100 AS INTEGER)) THEN d END) AS "P50",
                   MAX(CASE WHEN rn = MAX(1, CAST((n * 90 + 99) / 100 AS INTEGER)) THEN d END) AS "P90",
                   MAX(CASE WHEN rn = MAX(1, CAST((n * 95 + 99) / 100 AS INTEGER)) THEN d END) AS "P95",
                   MAX(CASE WHEN rn = MAX(1, CAST((n * 99 + 99) / 100 AS INTEGER)) THEN d END) AS "P99"
            FROM (SELECT "DurationMs" AS d, ROW_NUMBER() OVER (ORDER BY "DurationMs") AS rn, COUNT(*) OVER () AS n
                  FROM "runs" WHERE {where})
            GROUP BY n
            """;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
#pragma warning disable EF1002 // The SQL is built from constants; every value is a parameter.
        var rows = await db.Database.SqlQueryRaw<LatencyRow>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
#pragma warning restore EF1002
        return rows is [var row] ? new LatencyPercentiles(row.Runs, row.P50, row.P90, row.P95, row.P99) : new LatencyPercentiles(0, null, null, null, null);
    }

    internal sealed class CostGroup
    {
        public DateTime Day { get; init; }
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

    internal sealed class LatencyRow
    {
        public long Runs { get; init; }
        public double? P50 { get; init; }
        public double? P90 { get; init; }
        public double? P95 { get; init; }
        public double? P99 { get; init; }
    }
}
