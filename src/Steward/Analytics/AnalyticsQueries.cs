using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Storage;

namespace Steward.Analytics;

/// <summary>
/// Latency percentiles (nearest rank) of completed runs, in milliseconds; <see langword="null"/> when no run has a
/// duration. Exact (<see cref="Exact"/>) up to <see cref="ReportOptions.ExactPercentilesUpTo"/> runs; beyond, each is
/// read from a histogram bucket, within 2.2 % of the exact duration (see <c>LatencyBuckets</c>).
/// </summary>
public sealed record LatencyPercentiles(long Runs, double? P50, double? P90, double? P95, double? P99)
{
    /// <summary>The percentiles are the runs' own durations, not their histogram buckets' values.</summary>
    public bool Exact { get; init; }
}

/// <summary>
/// What the Analytics view shows for a filter: the cost report and the quality trend (days in
/// <see cref="TimeZone"/>), latency percentiles, and the agents and models to filter by.
/// </summary>
public sealed record AnalyticsSnapshot(
    CostReport Costs, LatencyPercentiles Latency, IReadOnlyList<QualityTrendPoint> Quality, IReadOnlyList<string> Agents, IReadOnlyList<string> Models)
{
    /// <summary>How the runs ended, status by status.</summary>
    public RunOutcomeReport Outcomes { get; init; } = new([]);

    /// <summary>Time to first token.</summary>
    public TimeToFirstTokenPercentiles FirstToken { get; init; } = new(0, null, null);

    /// <summary>Cost by user, most expensive first.</summary>
    public IReadOnlyList<GroupUsage> ByUser { get; init; } = [];

    /// <summary>Cost by tag, most expensive first.</summary>
    public IReadOnlyList<GroupUsage> ByTag { get; init; } = [];

    /// <summary>The thumbs up and down given to the runs.</summary>
    public FeedbackSummary Feedback { get; init; } = new(0, 0);

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
    private readonly int _exactUpTo;

    internal AnalyticsQueries(IDbContextFactory<StewardDbContext> contexts, CostReports costs, QualityTrends quality, StorageBackend backend, IOptions<ReportOptions> options)
    {
        _contexts = contexts;
        _costs = costs;
        _quality = quality;
        _backend = backend;
        TimeZone = options.Value.Zone;
        _exactUpTo = options.Value.ExactPercentilesUpTo;
    }

    /// <summary>The configured time zone reports begin their days in.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>
    /// Everything the Analytics view shows for <paramref name="filter"/> (every card, and the choices of its filters); the
    /// queries run side by side.
    /// </summary>
    public async Task<AnalyticsSnapshot> GetAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        // Microsoft.Data.Sqlite runs "async" commands synchronously, so only separate threads make them overlap.
        var costs = Task.Run(() => GetCostsAsync(filter, cancellationToken), cancellationToken);
        var latency = Task.Run(() => GetLatencyAsync(filter, cancellationToken), cancellationToken);
        var quality = Task.Run(() => GetQualityTrendAsync(filter, cancellationToken), cancellationToken);
        var choices = Task.Run(() => GetFilterChoicesAsync(cancellationToken), cancellationToken);
        var statuses = Task.Run(() => ReadFacetsAsync(filter, GroupBy.Status, cancellationToken), cancellationToken);
        var firstToken = Task.Run(() => GetTimeToFirstTokenAsync(filter, cancellationToken), cancellationToken);
        var byUser = Task.Run(() => GetCostByUserAsync(filter, cancellationToken), cancellationToken);
        var byTag = Task.Run(() => GetCostByTagAsync(filter, cancellationToken), cancellationToken);
        await Task.WhenAll(costs, latency, quality, choices, statuses, firstToken, byUser, byTag).ConfigureAwait(false);
        var (agents, models) = await choices.ConfigureAwait(false);
        var byStatus = await statuses.ConfigureAwait(false);
        return new AnalyticsSnapshot(await costs.ConfigureAwait(false), await latency.ConfigureAwait(false), await quality.ConfigureAwait(false), agents, models)
        {
            Outcomes = Outcomes(byStatus),
            Feedback = new FeedbackSummary(byStatus.Sum(r => r.Up), byStatus.Sum(r => r.Down)),
            FirstToken = await firstToken.ConfigureAwait(false),
            ByUser = await byUser.ConfigureAwait(false),
            ByTag = await byTag.ConfigureAwait(false),
        };
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
            UserId = filter.UserId, Tag = filter.Tag,
        }, cancellationToken);
    }

    /// <summary>The agents and models that have runs, for the filter pickers.</summary>
    public async Task<(IReadOnlyList<string> Agents, IReadOnlyList<string> Models)> GetFilterChoicesAsync(CancellationToken cancellationToken)
    {
        // From the hourly rollup (one row per hour, agent and model that had runs), not from every run, in one pass: the
        // pairs are few (agents times models), and each list is taken from them here.
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var pairs = await db.RunRollups.AsNoTracking().Select(r => new { r.PresetName, r.Model }).Distinct().ToListAsync(cancellationToken).ConfigureAwait(false);
        return ([.. pairs.Select(p => p.PresetName).Distinct().Order(StringComparer.Ordinal)], [.. pairs.Select(p => p.Model).Distinct().Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// Nearest-rank percentiles of completed runs' durations, from the latency histogram: the whole UTC days of the filter
    /// from <c>latency_rollups</c> (a user's or a tag's from <c>facet_histogram_rollups</c>; both kept by the database's
    /// triggers), the ragged ends and a session's runs bucketed from the runs themselves by the same bounds (<c>latency_buckets</c>).
    /// </summary>
    public async Task<LatencyPercentiles> GetLatencyAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return await ReadPercentilesAsync(filter, Duration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Nearest-rank percentiles of <paramref name="histogram"/>'s time over the filtered runs: from the histogram, and
    /// then, when it counts no more than <see cref="ReportOptions.ExactPercentilesUpTo"/> runs, from the runs' own values,
    /// so a small window (a session, a day's few runs) shows the times the runs themselves show, not their buckets' middles.
    /// </summary>
    private async Task<LatencyPercentiles> ReadPercentilesAsync(CostFilter filter, Histogram histogram, CancellationToken cancellationToken)
    {
        var approximate = Percentiles(await ReadHistogramAsync(filter, histogram, cancellationToken).ConfigureAwait(false));
        if (approximate.Runs == 0 || approximate.Runs > _exactUpTo)
        {
            return approximate;
        }

        // The runs are read through the session's index or by start time: a model's or provider's few runs among a window's
        // million would be found by reading the million, so the whole window must be small too.
        if (filter.SessionId is null && filter != new CostFilter { From = filter.From, To = filter.To } &&
            Percentiles(await ReadHistogramAsync(new CostFilter { From = filter.From, To = filter.To }, histogram, cancellationToken).ConfigureAwait(false)).Runs > _exactUpTo)
        {
            return approximate;
        }

        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var conditions = RawConditions(filter, histogram);
        var sql = $"""SELECT "{histogram.Column}" AS "Value" FROM "runs" {conditions.WhereClause} ORDER BY "{histogram.Column}" LIMIT {_exactUpTo + 1}""";
        var values = await db.Database.SqlQueryRaw<double>(sql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        // Runs stored since the histogram was read can take the window past the limit: the histogram's figures stand then.
        if (values.Count == 0 || values.Count > _exactUpTo)
        {
            return approximate;
        }

        double At(int percent) => values[(int)NearestRank(values.Count, percent) - 1];
        return new LatencyPercentiles(values.Count, At(50), At(90), At(95), At(99)) { Exact = true };
    }

    /// <summary>The conditions that pick, of the runs <paramref name="filter"/> selects, those <paramref name="histogram"/> counts.</summary>
    private ReportSql RawConditions(CostFilter filter, Histogram histogram)
    {
        var conditions = new ReportSql(_backend).Runs(filter);
        if (histogram.CompletedOnly)
        {
            // The "|| ''" keeps SQLite off the Status index, which would look up nearly every run to test the filter.
            conditions.Where.Add("\"Status\" || '' = 'Completed'");
        }

        conditions.Where.Add($"\"{histogram.Column}\" IS NOT NULL");
        return conditions;
    }

    /// <summary>A histogram of one time of the runs: its column, the daily rollup that holds it, and whether only completed runs count.</summary>
    /// <param name="Column">The runs' column it counts.</param>
    /// <param name="Rollup">The daily rollup that holds it for every run.</param>
    /// <param name="CompletedOnly">Whether only completed runs count.</param>
    /// <param name="Name">Its name in <c>facet_histogram_rollups</c> (which holds it by user and tag).</param>
    private sealed record Histogram(string Column, string Rollup, bool CompletedOnly, string Name);

    private static readonly Histogram Duration = new("DurationMs", "latency_rollups", CompletedOnly: true, "latency");

    private static readonly Histogram FirstToken = new("TimeToFirstTokenMs", "first_token_rollups", CompletedOnly: false, "first_token");

    /// <summary>Bucket → runs of the filtered runs' <paramref name="histogram"/>: whole UTC days from its rollup, the rest from the runs.</summary>
    private async Task<SortedDictionary<int, long>> ReadHistogramAsync(CostFilter filter, Histogram histogram, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var counts = new SortedDictionary<int, long>();
        async Task AddAsync(string sql, List<object> parameters)
        {
            foreach (var row in await db.Database.SqlQueryRaw<BucketRow>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[row.Bucket] = counts.GetValueOrDefault(row.Bucket) + row.Runs;
            }
        }

        async Task AddRawAsync(CostFilter part)
        {
            var conditions = RawConditions(part, histogram);
            var sql = $"""
                SELECT b."Bucket", CAST(COUNT(*) AS BIGINT) AS "Runs"
                FROM (SELECT (SELECT "Bucket" FROM latency_buckets WHERE "LowerMs" <= runs."{histogram.Column}" ORDER BY "LowerMs" DESC LIMIT 1) AS "Bucket"
                      FROM "runs" {conditions.WhereClause}) AS b
                GROUP BY b."Bucket"
                """;
            await AddAsync(sql, conditions.Parameters).ConfigureAwait(false);
        }

        // The histogram rollups have no session, nor a user and a tag together: those runs are bucketed through their indexes.
        if (filter.SessionId is not null || filter.CrossesFacets)
        {
            await AddRawAsync(filter).ConfigureAwait(false);
            return counts;
        }

        var window = RollupWindow.Split(filter.From, filter.To, TimeSpan.FromDays(1));
        foreach (var (from, to) in window.Edges)
        {
            await AddRawAsync(filter with { From = from, To = to }).ConfigureAwait(false);
        }

        async Task AddRollupAsync(ReportSql conditions, string table) =>
            await AddAsync($"""SELECT "Bucket", CAST(SUM("Runs") AS BIGINT) AS "Runs" FROM "{table}" {conditions.WhereClause} GROUP BY "Bucket" """, conditions.Parameters)
                .ConfigureAwait(false);

        if (!window.HasInner)
        {
            return counts;
        }

        if (filter.FacetFilter is { } facet)
        {
            // A user's or a tag's runs from facet_histogram_rollups.
            await AddRollupAsync(new ReportSql(_backend).Facets(filter, window.InnerFrom, window.InnerTo, facet.Facet, facet.Value)
                .Add("\"Histogram\" = {0}", histogram.Name), "facet_histogram_rollups").ConfigureAwait(false);
            return counts;
        }

        // Every run's: whole months from histogram_month_rollups (a bucket row per month, not per day: all time is a few
        // thousand rows, not a hundred thousand), the days at either end from the histogram's daily rollup.
        var months = RollupWindow.SplitMonths(window.InnerFrom, window.InnerTo);
        foreach (var (from, to) in months.Edges)
        {
            await AddRollupAsync(new ReportSql(_backend).Rollup(filter, "Day", from.UtcDateTime, to.UtcDateTime), histogram.Rollup).ConfigureAwait(false);
        }

        if (months.HasInner)
        {
            await AddRollupAsync(new ReportSql(_backend).Rollup(filter, "Month", months.InnerFrom, months.InnerTo).Add("\"Histogram\" = {0}", histogram.Name),
                "histogram_month_rollups").ConfigureAwait(false);
        }

        return counts;
    }

    /// <summary>The 1-based rank of the <paramref name="percent"/>th percentile of <paramref name="count"/> values (nearest rank).</summary>
    private static long NearestRank(long count, int percent) => Math.Max(1, ((count * percent) + 99) / 100);

    /// <summary>Nearest-rank percentiles over a histogram (bucket → runs), each reported as its bucket's value.</summary>
    internal static LatencyPercentiles Percentiles(SortedDictionary<int, long> counts)
    {
        var total = counts.Values.Sum();
        if (total == 0)
        {
            return new LatencyPercentiles(0, null, null, null, null);
        }

        double At(int percent)
        {
            var rank = NearestRank(total, percent);
            var seen = 0L;
            foreach (var (bucket, runs) in counts)
            {
                seen += runs;
                if (seen >= rank)
                {
                    return LatencyBuckets.Value(bucket);
                }
            }

            throw new InvalidOperationException("A rank past the histogram's total.");
        }

        return new LatencyPercentiles(total, At(50), At(90), At(95), At(99));
    }

    private sealed class BucketRow
    {
        public int Bucket { get; init; }
        public long Runs { get; init; }
    }
}
/// <summary>How reports are shown. Bound from <c>Steward:Reports</c>.</summary>
public sealed class ReportOptions
{
    /// <summary>The time zone report days begin in (an IANA id such as <c>Europe/Paris</c>, or <c>UTC</c>, the default).</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>
    /// Up to how many runs latency and time-to-first-token percentiles are the runs' own values (read from the runs,
    /// sorted), when the filter's window (or session) holds no more runs than that either; beyond, they come from the
    /// latency histogram (within 2.2 %, whatever the number of runs). 0: always the histogram.
    /// </summary>
    public int ExactPercentilesUpTo { get; set; } = 5000;

    internal TimeZoneInfo Zone => Budgets.BudgetPeriods.FindZone(TimeZone, "Steward:Reports:TimeZone");
}

/// <summary>Checks <see cref="ReportOptions"/> at start: a time zone this machine knows, an exact-percentile limit in range.</summary>
internal sealed class ReportOptionsValidator : IValidateOptions<ReportOptions>
{
    /// <summary>Past this, reading every run's value costs a report more than being exact is worth.</summary>
    private const int MaxExactPercentiles = 1_000_000;

    public ValidateOptionsResult Validate(string? name, ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> problems = [];
        try
        {
            _ = options.Zone;
        }
        catch (ArgumentException ex)
        {
            problems.Add(ex.Message);
        }

        if (options.ExactPercentilesUpTo is < 0 or > MaxExactPercentiles)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture,
                $"Steward:Reports:ExactPercentilesUpTo is {options.ExactPercentilesUpTo}: set it between 0 (always the latency histogram) and {MaxExactPercentiles}."));
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
