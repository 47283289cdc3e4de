using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Evaluation;

/// <summary>Which evaluations a trend covers. Every filter is optional.</summary>
public sealed record QualityTrendFilter
{
    /// <summary>Only this agent preset.</summary>
    public string? Preset { get; init; }

    /// <summary>Evaluated at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Evaluated before this instant.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>The time zone days begin in; default UTC.</summary>
    public TimeZoneInfo? TimeZone { get; init; }

    /// <summary>Only answers of runs on this model.</summary>
    public string? Model { get; init; }

    /// <summary>Only answers of runs on this provider.</summary>
    public string? Provider { get; init; }

    /// <summary>Only answers of runs in this session.</summary>
    public Guid? SessionId { get; init; }

    /// <summary>Only answers of runs made for this user id.</summary>
    public string? UserId { get; init; }

    /// <summary>Only answers of runs carrying this tag.</summary>
    public string? Tag { get; init; }
}

/// <summary>One agent's quality on one day.</summary>
/// <param name="Preset">The agent preset.</param>
/// <param name="Day">The day, in the filter's time zone.</param>
/// <param name="Evaluations">How many answers were scored.</param>
/// <param name="MeanScore">Their mean quality score (0–100).</param>
/// <param name="PassRate">The share that passed (0–1).</param>
/// <param name="Errors">How many evaluations recorded an error.</param>
/// <param name="JudgeCostUsd">What the judge cost that day (priced evaluations only).</param>
/// <param name="MetricMeans">Mean normalized score (0–1) of each metric, by name.</param>
public sealed record QualityTrendPoint(
    string Preset, DateOnly Day, int Evaluations, double MeanScore, double PassRate, int Errors, decimal JudgeCostUsd,
    IReadOnlyDictionary<string, double> MetricMeans);

/// <summary>
/// Quality over time per agent: the one quality trend the web UI (Analytics) and reports use. One point per preset and
/// day (in the filter's time zone), with the mean score, pass rate, errors, judge cost and each metric's mean, all
/// summed by the database per day bucket (<see cref="StorageBackend.DayBucket"/>), so the cost of a trend does not grow
/// with the number of answers scored. Reads only; thread-safe.
/// </summary>
public sealed class QualityTrends
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _backend;

    internal QualityTrends(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend)
    {
        _contexts = contexts;
        _backend = backend;
    }

    /// <summary>The points matching <paramref name="filter"/>, by preset then day.</summary>
    public async Task<IReadOnlyList<QualityTrendPoint>> GetAsync(QualityTrendFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var zone = filter.TimeZone ?? TimeZoneInfo.Utc;
        var scores = new List<ScoreRow>();
        var metrics = new List<MetricRow>();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var facet = new Costs.CostFilter { UserId = filter.UserId, Tag = filter.Tag };
        // The hourly rollups (every run's, or a user's or tag's) sum into any zone's days, each UTC hour into the day it lies
        // in (the hour a half-hour zone's day begins in from the evaluations); a user's or tag's days in UTC read its daily
        // rollups, a twenty-fourth of the rows. A user and a tag at once cross facets no rollup holds together; those answers
        // are read through the runs' user and tag indexes.
        var daily = facet.FacetFilter is not null && RollupWindow.IsUtc(zone);
        if (filter.SessionId is null && !facet.CrossesFacets)
        {
            // The whole UTC hours (days) from the rollups the database's triggers keep, the ragged ends from the evaluations.
            var window = RollupWindow.Split(filter.From, filter.To, daily ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1));
            foreach (var (from, to) in window.Edges)
            {
                await ReadRawAsync(db, filter with { From = from, To = to }, zone, scores, metrics, cancellationToken).ConfigureAwait(false);
            }

            if (window.HasInner)
            {
                await ReadRollupsAsync(db, filter, window, zone, scores, metrics, facet.FacetFilter, daily, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            await ReadRawAsync(db, filter, zone, scores, metrics, cancellationToken).ConfigureAwait(false);
        }

        var metricMeans = metrics
            .GroupBy(r => (r.Preset, r.Day))
            .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, double>)g.GroupBy(r => r.Name, StringComparer.Ordinal)
                .ToDictionary(n => n.Key, n => Math.Round(n.Sum(r => r.Sum) / n.Sum(r => r.Count), 4), StringComparer.Ordinal));
        return scores
            .GroupBy(r => (r.Preset, r.Day))
            .Where(g => g.Sum(r => r.Evaluations) > 0)
            .OrderBy(g => g.Key.Preset, StringComparer.Ordinal).ThenBy(g => g.Key.Day)
            .Select(g =>
            {
                var count = g.Sum(r => r.Evaluations);
                return new QualityTrendPoint(
                    g.Key.Preset, g.Key.Day, (int)count, Math.Round(g.Sum(r => r.ScoreSum) / count, 2), (double)g.Sum(r => r.Passed) / count,
                    (int)g.Sum(r => r.Errors), NanoUsd.ToUsd(g.Sum(r => r.JudgeCostNanoUsd)),
                    metricMeans.TryGetValue(g.Key, out var means) ? means : new Dictionary<string, double>(StringComparer.Ordinal));
            })
            .ToArray();
    }

    /// <summary>
    /// The whole units of <paramref name="window"/> from quality_rollups (UTC hours) or, for a user or tag
    /// (<paramref name="facet"/>), from facet_quality_hour_rollups (UTC hours) or facet_quality_rollups (UTC days,
    /// <paramref name="daily"/>), with their metric rollups.
    /// </summary>
    private async Task ReadRollupsAsync(
        StewardDbContext db, QualityTrendFilter filter, RollupWindow window, TimeZoneInfo zone, List<ScoreRow> scores, List<MetricRow> metrics,
        (string Facet, string Value)? facet, bool daily, CancellationToken cancellationToken)
    {
        var runs = new Costs.CostFilter { Agent = filter.Preset, Model = filter.Model, Provider = filter.Provider };
        var unit = daily ? "Day" : "Hour";
        var conditions = facet is { } f
            ? new ReportSql(_backend).Facets(runs, window.InnerFrom, window.InnerTo, f.Facet, f.Value, unit)
            : new ReportSql(_backend).Rollup(runs, "Hour", window.InnerFrom, window.InnerTo);
        var (scoreTable, metricTable) = (facet, daily) switch
        {
            (null, _) => ("quality_rollups", "quality_metric_rollups"),
            (_, true) => ("facet_quality_rollups", "facet_quality_metric_rollups"),
            _ => ("facet_quality_hour_rollups", "facet_quality_metric_hour_rollups"),
        };
        var time = $"\"{unit}\"";
        // Only table and column names are spliced in; every value is a parameter.
        var scoreSql = $"""
            SELECT "PresetName" AS "Preset", {time} AS "Hour", CAST(SUM("Evaluations") AS BIGINT) AS "Evaluations", SUM("ScoreSum") AS "ScoreSum",
                   CAST(SUM("Passed") AS BIGINT) AS "Passed", CAST(SUM("Errors") AS BIGINT) AS "Errors", CAST(SUM("JudgeCostNanoUsd") AS BIGINT) AS "JudgeCostNanoUsd"
            FROM "{scoreTable}" {conditions.WhereClause}
            GROUP BY "PresetName", {time}
            """;
        var metricSql = $"""
            SELECT "PresetName" AS "Preset", {time} AS "Hour", "Name", SUM("Sum") AS "Sum", CAST(SUM("Count") AS BIGINT) AS "Count"
            FROM "{metricTable}" {conditions.WhereClause}
            GROUP BY "PresetName", {time}, "Name"
            """;
        DateOnly Day(DateTime hour) => DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(hour, DateTimeKind.Utc), zone));
        // A day begins inside these hours (a half- or quarter-hour zone, one hour a day): read from the evaluations instead.
        var splitHours = new SortedSet<DateTime>();
        bool Splits(DateTime hour)
        {
            var start = DateTime.SpecifyKind(hour, DateTimeKind.Utc);
            if (daily || !RollupWindow.SplitsDay(zone, start))
            {
                return false;
            }

            splitHours.Add(start);
            return true;
        }

        foreach (var row in await db.Database.SqlQueryRaw<HourScoreRow>(scoreSql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!Splits(row.Hour))
            {
                scores.Add(new ScoreRow(row.Preset, Day(row.Hour), row.Evaluations, row.ScoreSum, row.Passed, row.Errors, row.JudgeCostNanoUsd));
            }
        }

        foreach (var row in await db.Database.SqlQueryRaw<HourMetricRow>(metricSql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!Splits(row.Hour))
            {
                metrics.Add(new MetricRow(row.Preset, Day(row.Hour), row.Name, row.Sum, row.Count));
            }
        }

        foreach (var hours in splitHours.Chunk(ReportSql.MaxRangesPerQuery))
        {
            await ReadRawAsync(db, filter, zone, scores, metrics, cancellationToken, [.. hours.Select(h => (h, h.AddHours(1)))]).ConfigureAwait(false);
        }
    }

    /// <summary>Sums the evaluations themselves (only those made within <paramref name="hours"/> when given) by day bucket (<see cref="StorageBackend.DayBucket"/>).</summary>
    private async Task ReadRawAsync(
        StewardDbContext db, QualityTrendFilter filter, TimeZoneInfo zone, List<ScoreRow> scores, List<MetricRow> metrics, CancellationToken cancellationToken,
        IReadOnlyList<(DateTime From, DateTime To)>? hours = null)
    {
        var conditions = new ReportSql(_backend);
        var ranges = hours is null ? "" : conditions.FromWithin("e.\"EvaluatedAt\"", hours);

        if (filter.Preset is { Length: > 0 } preset)
        {
            conditions.Add("e.\"PresetName\" = {0}", preset);
        }

        if (filter.From is { } from)
        {
            conditions.Add("e.\"EvaluatedAt\" >= {0}", _backend.Date(from.UtcDateTime));
        }

        if (filter.To is { } to)
        {
            conditions.Add("e.\"EvaluatedAt\" < {0}", _backend.Date(to.UtcDateTime));
        }

        if (filter.Model is { Length: > 0 } || filter.Provider is { Length: > 0 } || filter.SessionId is not null || filter.UserId is { Length: > 0 }
            || filter.Tag is { Length: > 0 })
        {
            // Evaluations carry their agent and time; only a model, provider, session, user or tag needs the scored runs.
            var runs = new ReportSql(_backend).Runs(new Costs.CostFilter
            {
                Model = filter.Model, Provider = filter.Provider, SessionId = filter.SessionId, UserId = filter.UserId, Tag = filter.Tag,
            }, "r");
            var offset = conditions.Parameters.Count;
            var renumbered = string.Join(" AND ", runs.Where.Select(w => Renumber(w, offset)));
            conditions.Where.Add($"{conditions.NotDriving("e.\"RunId\"")} IN (SELECT r.\"Id\" FROM \"runs\" r WHERE {renumbered})");
            conditions.Parameters.AddRange(runs.Parameters);
        }

        var bucket = _backend.DayBucket("e.\"EvaluatedAt\"", zone);
        var scoreSql = $"""
            SELECT e."PresetName" AS "Preset", {bucket} AS "Bucket", COUNT(*) AS "Evaluations", SUM(e."Score") AS "ScoreSum",
                   CAST(SUM(CASE WHEN e."Passed" THEN 1 ELSE 0 END) AS BIGINT) AS "Passed",
                   CAST(SUM(CASE WHEN e."Error" IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS "Errors",
                   CAST(COALESCE(SUM(e."JudgeCostNanoUsd"), 0) AS BIGINT) AS "JudgeCostNanoUsd"
            FROM {ranges}"evaluations" e
            {conditions.WhereClause}
            GROUP BY 1, 2
            """;
        var metricSql = $"""
            SELECT e."PresetName" AS "Preset", {bucket} AS "Bucket", m."Name" AS "Name", SUM(m."NormalizedScore") AS "Sum", COUNT(*) AS "Count"
            FROM {ranges}"evaluations" e JOIN "evaluation_metrics" m ON m."RunId" = e."RunId"
            WHERE m."NormalizedScore" IS NOT NULL AND {conditions.Conditions}
            GROUP BY 1, 2, 3
            """;
        foreach (var row in await db.Database.SqlQueryRaw<BucketScoreRow>(scoreSql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            scores.Add(new ScoreRow(row.Preset, _backend.DayOf(row.Bucket, zone), row.Evaluations, row.ScoreSum, row.Passed, row.Errors, row.JudgeCostNanoUsd));
        }

        foreach (var row in await db.Database.SqlQueryRaw<BucketMetricRow>(metricSql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            metrics.Add(new MetricRow(row.Preset, _backend.DayOf(row.Bucket, zone), row.Name, row.Sum, row.Count));
        }
    }

    private static string Renumber(string condition, int offset) =>
        System.Text.RegularExpressions.Regex.Replace(condition, @"\{(\d+)\}",
            m => "{" + (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + offset).ToString(System.Globalization.CultureInfo.InvariantCulture) + "}");

    private sealed record ScoreRow(string Preset, DateOnly Day, long Evaluations, double ScoreSum, long Passed, long Errors, long JudgeCostNanoUsd);

    private sealed record MetricRow(string Preset, DateOnly Day, string Name, double Sum, long Count);

    private class ScoreSums
    {
        public string Preset { get; init; } = "";
        public long Evaluations { get; init; }
        public double ScoreSum { get; init; }
        public long Passed { get; init; }
        public long Errors { get; init; }
        public long JudgeCostNanoUsd { get; init; }
    }

    private sealed class BucketScoreRow : ScoreSums
    {
        public string Bucket { get; init; } = "";
    }

    private sealed class HourScoreRow : ScoreSums
    {
        public DateTime Hour { get; init; }
    }

    private class MetricSums
    {
        public string Preset { get; init; } = "";
        public string Name { get; init; } = "";
        public double Sum { get; init; }
        public long Count { get; init; }
    }

    private sealed class BucketMetricRow : MetricSums
    {
        public string Bucket { get; init; } = "";
    }

    private sealed class HourMetricRow : MetricSums
    {
        public DateTime Hour { get; init; }
    }
}
