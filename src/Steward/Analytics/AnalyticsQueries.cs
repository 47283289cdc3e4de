using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Storage;

namespace Steward.Analytics;

/// <summary>Latency percentiles of finished runs, in milliseconds; <see langword="null"/> when no run has a duration.</summary>
public sealed record LatencyPercentiles(long Runs, double? P50, double? P90, double? P95, double? P99);

/// <summary>
/// What the Analytics view shows for a filter: the cost report and the quality trend (days in
/// <see cref="TimeZone"/>), latency percentiles, and the agents and models to filter by.
/// </summary>
public sealed record AnalyticsSnapshot(
    CostReport Costs, LatencyPercentiles Latency, IReadOnlyList<QualityTrendPoint> Quality, IReadOnlyList<string> Agents, IReadOnlyList<string> Models)
{
    /// <summary>The IANA id of the time zone days begin in (<see cref="ReportOptions.TimeZone"/>).</summary>
    public string TimeZone => Costs.TimeZone;
}

/// <summary>
/// The analytics the hosts show, from the engine's read models: costs (<c>CostReports</c>, the same report as
/// <c>steward costs</c>), the quality trend (<see cref="QualityTrends"/>) and latency percentiles, each aggregated by the
/// database, days in the configured time zone. Thread-safe.
/// </summary>
public sealed partial class AnalyticsQueries
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly CostReports _costs;
    private readonly QualityTrends _quality;
    private readonly StorageBackend _backend;

    internal AnalyticsQueries(IDbContextFactory<StewardDbContext> contexts, CostReports costs, QualityTrends quality, StorageBackend backend, IOptions<ReportOptions> options)
    {
        _contexts = contexts;
        _costs = costs;
        _quality = quality;
        _backend = backend;
        TimeZone = options.Value.Zone;
    }

    /// <summary>The configured time zone reports begin their days in.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>Everything the Analytics view shows for <paramref name="filter"/>; the queries run side by side.</summary>
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

    /// <summary>The cost report over the filtered runs, days in the configured time zone.</summary>
    public Task<CostReport> GetCostsAsync(CostFilter filter, CancellationToken cancellationToken) => _costs.GetReportAsync(filter, TimeZone, cancellationToken);

    /// <summary>The cost report over the filtered runs, days in <paramref name="timeZone"/> (what <c>steward costs --time-zone</c> asks for).</summary>
    public Task<CostReport> GetCostsAsync(CostFilter filter, TimeZoneInfo timeZone, CancellationToken cancellationToken) =>
        _costs.GetReportAsync(filter, timeZone, cancellationToken);

    /// <summary>The quality trend of the filtered runs' answers, days in the configured time zone.</summary>
    public Task<IReadOnlyList<QualityTrendPoint>> GetQualityTrendAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return _quality.GetAsync(new QualityTrendFilter
        {
            Preset = filter.Agent, From = filter.From, To = filter.To, TimeZone = TimeZone, Model = filter.Model, Provider = filter.Provider, SessionId = filter.SessionId,
        }, cancellationToken);
    }

    /// <summary>The agents and models that have runs, for the filter pickers.</summary>
    public async Task<(IReadOnlyList<string> Agents, IReadOnlyList<string> Models)> GetFilterChoicesAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var agents = await db.Runs.AsNoTracking().Select(r => r.PresetName).Distinct().OrderBy(a => a).ToListAsync(cancellationToken).ConfigureAwait(false);
        var models = await db.Runs.AsNoTracking().Select(r => r.Model).Distinct().OrderBy(m => m).ToListAsync(cancellationToken).ConfigureAwait(false);
        return (agents, models);
    }

    /// <summary>
    /// Nearest-rank percentiles of completed runs' durations. Unfiltered, the (Status, DurationMs) index hands completed
    /// runs over in order, so a rank is a walk along it; filtered, the filter narrows first and one window query numbers
    /// what matched, in one sort.
    /// </summary>
    public async Task<LatencyPercentiles> GetLatencyAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (filter is not { From: null, To: null, Agent: null, Model: null, Provider: null, SessionId: null })
        {
            return await GetFilteredLatencyAsync(db, filter, cancellationToken).ConfigureAwait(false);
        }

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

    private async Task<LatencyPercentiles> GetFilteredLatencyAsync(StewardDbContext db, CostFilter filter, CancellationToken cancellationToken)
    {
        var conditions = new ReportSql(_backend).Runs(filter);
        // The "|| ''" keeps SQLite off the Status index, which would look up nearly every run to test the filter.
        conditions.Where.Add("\"Status\" || '' = 'Completed'");
        conditions.Where.Add("\"DurationMs\" IS NOT NULL");
        string Rank(int percent) => _backend.Greatest("1", $"(n * {percent} + 99) / 100");
        var sql = $"""
            SELECT n AS "Runs",
                   MAX(CASE WHEN rn = {Rank(50)} THEN d END) AS "P50",
                   MAX(CASE WHEN rn = {Rank(90)} THEN d END) AS "P90",
                   MAX(CASE WHEN rn = {Rank(95)} THEN d END) AS "P95",
                   MAX(CASE WHEN rn = {Rank(99)} THEN d END) AS "P99"
            FROM (SELECT "DurationMs" AS d, ROW_NUMBER() OVER (ORDER BY "DurationMs") AS rn, COUNT(*) OVER () AS n
                  FROM "runs" {conditions.WhereClause}) AS ranked
            GROUP BY n
            """;
        var rows = await db.Database.SqlQueryRaw<LatencyRow>(sql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows is [var row] ? new LatencyPercentiles(row.Runs, row.P50, row.P90, row.P95, row.P99) : new LatencyPercentiles(0, null, null, null, null);
    }

    private sealed class LatencyRow
    {
        public long Runs { get; init; }
        public double? P50 { get; init; }
        public double? P90 { get; init; }
        public double? P95 { get; init; }
        public double? P99 { get; init; }
    }
}

/// <summary>How reports are shown. Bound from <c>Steward:Reports</c>.</summary>
public sealed class ReportOptions
{
    /// <summary>The time zone report days begin in (an IANA id such as <c>Europe/Paris</c>, or <c>UTC</c>, the default).</summary>
    public string TimeZone { get; set; } = "UTC";

    internal TimeZoneInfo Zone => Budgets.BudgetPeriods.FindZone(TimeZone, "Steward:Reports:TimeZone");
}

/// <summary>Checks <see cref="ReportOptions"/> at start: the time zone must be one this machine knows.</summary>
internal sealed class ReportOptionsValidator : IValidateOptions<ReportOptions>
{
    public ValidateOptionsResult Validate(string? name, ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            _ = options.Zone;
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
