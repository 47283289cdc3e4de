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
/// Quality over time per agent, for the web UI's trends and for reports: one point per preset and day, with the
/// mean score, pass rate and each metric's mean. Reads only; thread-safe.
/// </summary>
public sealed class QualityTrends
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal QualityTrends(IDbContextFactory<StewardDbContext> contexts) => _contexts = contexts;

    /// <summary>The points matching <paramref name="filter"/>, by preset then day.</summary>
    public async Task<IReadOnlyList<QualityTrendPoint>> GetAsync(QualityTrendFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Evaluations.AsNoTracking();
        if (filter.Preset is { Length: > 0 } preset)
        {
            query = query.Where(e => e.PresetName == preset);
        }

        if (filter.From is { } from)
        {
            var f = from.UtcDateTime;
            query = query.Where(e => e.EvaluatedAt >= f);
        }

        if (filter.To is { } to)
        {
            var t = to.UtcDateTime;
            query = query.Where(e => e.EvaluatedAt < t);
        }

        var rows = await query
            .Select(e => new
            {
                e.PresetName, e.EvaluatedAt, e.Score, e.Passed, HasError = e.Error != null, e.JudgeCostNanoUsd,
                Metrics = e.Metrics.Where(m => m.NormalizedScore != null).Select(m => new { m.Name, m.NormalizedScore }).ToList(),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        var zone = filter.TimeZone ?? TimeZoneInfo.Utc;
        return rows
            .GroupBy(r => (r.PresetName, Day: DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(r.EvaluatedAt, zone))))
            .OrderBy(g => g.Key.PresetName, StringComparer.Ordinal).ThenBy(g => g.Key.Day)
            .Select(g => new QualityTrendPoint(
                g.Key.PresetName, g.Key.Day, g.Count(), Math.Round(g.Average(r => r.Score), 2), (double)g.Count(r => r.Passed) / g.Count(),
                g.Count(r => r.HasError), NanoUsd.ToUsd(g.Sum(r => r.JudgeCostNanoUsd ?? 0)),
                g.SelectMany(r => r.Metrics).GroupBy(m => m.Name, StringComparer.Ordinal)
                    .ToDictionary(m => m.Key, m => Math.Round(m.Average(x => x.NormalizedScore!.Value), 4), StringComparer.Ordinal)))
            .ToArray();
    }
}
