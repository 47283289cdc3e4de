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
/// Reads what the Analytics page draws. Costs come from <see cref="CostReports"/>; latency percentiles are one window
/// query (SQLite has no percentile function, but it can number sorted rows), so nothing is aggregated in memory.
/// Thread-safe.
/// </summary>
internal sealed class AnalyticsQueries(CostReports costs, IDbContextFactory<StewardDbContext> contexts)
{
    public async Task<AnalyticsSnapshot> GetAsync(CostFilter filter, TimeZoneInfo timeZone, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var report = await costs.GetReportAsync(filter, timeZone, cancellationToken).ConfigureAwait(false);
        var latency = await GetLatencyAsync(filter, cancellationToken).ConfigureAwait(false);
        var quality = await GetQualityTrendAsync(filter, cancellationToken).ConfigureAwait(false);
        var (agents, models) = await GetFilterChoicesAsync(cancellationToken).ConfigureAwait(false);
        return new AnalyticsSnapshot(report, latency, quality, agents, models);
    }

    /// <summary>
    /// Mean quality per agent and UTC day of the runs the filter selects, grouped by the database (evaluations join
    /// their runs, so the model filter applies too).
    /// </summary>
    public async Task<IReadOnlyList<QualityDay>> GetQualityTrendAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var runs = CostReports.Filtered(db, filter);
        var rows = await db.Evaluations.AsNoTracking()
            .Join(runs, e => e.RunId, r => r.Id, (e, r) => new { r.PresetName, Day = r.StartedAt.Date, e.Score, e.Passed })
            .GroupBy(x => new { x.PresetName, x.Day })
            .Select(g => new { g.Key.PresetName, g.Key.Day, Count = g.Count(), Mean = g.Average(x => x.Score), Passed = g.Count(x => x.Passed) })
            .OrderBy(g => g.PresetName).ThenBy(g => g.Day)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new QualityDay(r.PresetName, DateOnly.FromDateTime(r.Day), r.Count, Math.Round(r.Mean, 1), (double)r.Passed / r.Count)).ToArray();
    }

    /// <summary>The agents and models that have runs, for the filter pickers (both columns are indexed or small).</summary>
    public async Task<(IReadOnlyList<string> Agents, IReadOnlyList<string> Models)> GetFilterChoicesAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var agents = await db.Runs.AsNoTracking().Select(r => r.PresetName).Distinct().OrderBy(a => a).ToListAsync(cancellationToken).ConfigureAwait(false);
        var models = await db.Runs.AsNoTracking().Select(r => r.Model).Distinct().OrderBy(m => m).ToListAsync(cancellationToken).ConfigureAwait(false);
        return (agents, models);
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

    internal sealed class LatencyRow
    {
        public long Runs { get; init; }
        public double? P50 { get; init; }
        public double? P90 { get; init; }
        public double? P95 { get; init; }
        public double? P99 { get; init; }
    }
}
