using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Storage;

namespace Steward.Analytics;

/// <summary>
/// The runs of one status and what they used: a cancelled, failed or refused run that generated output is usage and
/// is counted and priced like an answer. <see cref="UnpricedRuns"/> used tokens on a model with no price (their cost is
/// not in <see cref="CostUsd"/>).
/// </summary>
public sealed record RunStatusUsage([property: System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<RunStatus>))] RunStatus Status, long Runs, long InputTokens, long OutputTokens, decimal CostUsd, long UnpricedRuns)
{
    /// <summary>Input and output tokens.</summary>
    public long Tokens => InputTokens + OutputTokens;
}

/// <summary>How the filtered runs ended, status by status, most runs first.</summary>
public sealed record RunOutcomeReport(IReadOnlyList<RunStatusUsage> ByStatus)
{
    /// <summary>Runs that have ended (every status but <see cref="RunStatus.Running"/>).</summary>
    public long Ended => ByStatus.Where(s => s.Status != RunStatus.Running).Sum(s => s.Runs);

    /// <summary>
    /// The share of ended runs that ended in error (failed, refused by a budget, or interrupted), 0–1;
    /// <see langword="null"/> when no run has ended. A person stopping a run is not an error.
    /// </summary>
    public double? ErrorRate => Ended == 0 ? null : (double)ByStatus.Where(s => IsError(s.Status)).Sum(s => s.Runs) / Ended;

    /// <summary>The share of ended runs that ended with <paramref name="status"/>, 0–1; 0 when no run has ended.</summary>
    public double Share(RunStatus status) => Ended == 0 || status == RunStatus.Running ? 0 : (double)ByStatus.Where(s => s.Status == status).Sum(s => s.Runs) / Ended;

    /// <summary>Whether runs ending with <paramref name="status"/> count as errors.</summary>
    public static bool IsError(RunStatus status) => status is RunStatus.Failed or RunStatus.BudgetExceeded or RunStatus.Interrupted;
}

/// <summary>What the runs of one user or one tag used and cost (a run with several tags counts under each).</summary>
public sealed record GroupUsage(string Key, long Runs, long Tokens, decimal CostUsd, long UnpricedRuns);

/// <summary>
/// Percentiles (nearest rank) of the time to first token, in milliseconds, over the runs that streamed anything: exact or
/// from the histogram as latency's are (<see cref="LatencyPercentiles"/>).
/// </summary>
public sealed record TimeToFirstTokenPercentiles(long Runs, double? P50, double? P95)
{
    /// <summary>The percentiles are the runs' own times, not their histogram buckets' values.</summary>
    public bool Exact { get; init; }
}

// Run outcomes for Analytics and `steward costs`: usage, cost and ratings by status, by user and by tag, and time to first
// token, over the same filter as the cost report. Whole UTC days come from the rollups the database's triggers keep
// (run_facet_rollups, first_token_rollups), the ragged ends of the window and a session's runs from the runs themselves,
// so no view reads more runs than its ends hold.
public sealed partial class AnalyticsQueries
{
    /// <summary>Usage and cost of the runs <paramref name="filter"/> selects, by how they ended.</summary>
    public async Task<RunOutcomeReport> GetByStatusAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return Outcomes(await ReadFacetsAsync(filter, GroupBy.Status, cancellationToken).ConfigureAwait(false));
    }

    private static RunOutcomeReport Outcomes(IEnumerable<FacetRow> rows) =>
        new([.. rows
            .Where(r => r.Runs != 0)
            .Select(r => new RunStatusUsage(Enum.Parse<RunStatus>(r.Key), r.Runs, r.Input, r.Output, NanoUsd.ToUsd(r.Cost), r.Unpriced))
            .OrderByDescending(s => s.Runs).ThenBy(s => s.Status)]);

    /// <summary>The thumbs up and down given to the runs <paramref name="filter"/> selects.</summary>
    public async Task<FeedbackSummary> GetFeedbackAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var rows = await ReadFacetsAsync(filter, GroupBy.Status, cancellationToken).ConfigureAwait(false);
        return new FeedbackSummary(rows.Sum(r => r.Up), rows.Sum(r => r.Down));
    }

    /// <summary>
    /// Time to first token of the runs <paramref name="filter"/> selects that streamed anything, whatever their status
    /// (a run stopped after its first words still shows how long people waited for them).
    /// </summary>
    public async Task<TimeToFirstTokenPercentiles> GetTimeToFirstTokenAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var percentiles = await ReadPercentilesAsync(filter, FirstToken, cancellationToken).ConfigureAwait(false);
        return new TimeToFirstTokenPercentiles(percentiles.Runs, percentiles.P50, percentiles.P95) { Exact = percentiles.Exact };
    }

    /// <summary>Cost by the user each run was made for (runs without a user id left out), most expensive first.</summary>
    public async Task<IReadOnlyList<GroupUsage>> GetCostByUserAsync(CostFilter filter, CancellationToken cancellationToken) =>
        ByKey(await ReadFacetsAsync(filter ?? throw new ArgumentNullException(nameof(filter)), GroupBy.User, cancellationToken).ConfigureAwait(false));

    /// <summary>Cost by tag (a run counts under each of its tags; untagged runs left out), most expensive first.</summary>
    public async Task<IReadOnlyList<GroupUsage>> GetCostByTagAsync(CostFilter filter, CancellationToken cancellationToken) =>
        ByKey(await ReadFacetsAsync(filter ?? throw new ArgumentNullException(nameof(filter)), GroupBy.Tag, cancellationToken).ConfigureAwait(false));

    private static IReadOnlyList<GroupUsage> ByKey(IEnumerable<FacetRow> rows) =>
        [.. rows.Where(r => r.Runs != 0).Select(r => new GroupUsage(r.Key, r.Runs, r.Input + r.Output, NanoUsd.ToUsd(r.Cost), r.Unpriced))
            .OrderByDescending(r => r.CostUsd).ThenByDescending(r => r.Tokens).ThenBy(r => r.Key, StringComparer.Ordinal)];

    private enum GroupBy
    {
        Status,
        User,
        Tag,
    }

    /// <summary>
    /// The filtered runs' usage, cost and ratings grouped by status, user or tag: the whole UTC days from
    /// <c>run_facet_rollups</c> (a user filter grouped by tag, a tag filter by user or by tag from <c>facet_cross_rollups</c>),
    /// the ragged ends from the runs. A user and a tag together cross facets no rollup holds: read from the runs (through
    /// that user's or tag's index).
    /// </summary>
    private async Task<IReadOnlyList<FacetRow>> ReadFacetsAsync(CostFilter filter, GroupBy group, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var sums = new Dictionary<string, FacetRow>(StringComparer.Ordinal);
        async Task AddAsync(string sql, List<object> parameters)
        {
            foreach (var row in await db.Database.SqlQueryRaw<FacetRow>(sql, [.. parameters]).ToListAsync(cancellationToken).ConfigureAwait(false))
            {
                sums[row.Key] = sums.TryGetValue(row.Key, out var s) ? s.Add(row) : row;
            }
        }

        async Task AddRawAsync(CostFilter part)
        {
            var conditions = new ReportSql(_backend).Runs(part, "runs");
            var (key, join) = group switch
            {
                GroupBy.User => ("runs.\"UserId\"", ""),
                GroupBy.Tag => ("g.\"Tag\"", "JOIN \"run_tags\" g ON g.\"RunId\" = runs.\"Id\""),
                _ => ("runs.\"Status\"", ""),
            };
            if (group == GroupBy.User)
            {
                conditions.Where.Add("runs.\"UserId\" IS NOT NULL");
            }

            var sql = $"""
                SELECT {key} AS "Key", CAST(COUNT(*) AS BIGINT) AS "Runs", CAST(SUM(runs."InputTokens") AS BIGINT) AS "Input",
                       CAST(SUM(runs."OutputTokens") AS BIGINT) AS "Output", CAST(COALESCE(SUM(runs."CostNanoUsd"), 0) AS BIGINT) AS "Cost",
                       CAST(SUM(CASE WHEN runs."CostNanoUsd" IS NULL AND runs."InputTokens" + runs."OutputTokens" > 0 THEN 1 ELSE 0 END) AS BIGINT) AS "Unpriced",
                       CAST(SUM(CASE WHEN f."Rating" > 0 THEN 1 ELSE 0 END) AS BIGINT) AS "Up",
                       CAST(SUM(CASE WHEN f."Rating" < 0 THEN 1 ELSE 0 END) AS BIGINT) AS "Down"
                FROM "runs" runs {join} LEFT JOIN "run_feedback" f ON f."RunId" = runs."Id"
                {conditions.WhereClause}
                GROUP BY {key}
                """;
            await AddAsync(sql, conditions.Parameters).ConfigureAwait(false);
        }

        var filterFacet = filter.FacetFilter;
        var groupFacet = group switch { GroupBy.User => "user", GroupBy.Tag => "tag", _ => "" };
        if (filter.SessionId is not null || filter.CrossesFacets)
        {
            await AddRawAsync(filter).ConfigureAwait(false);
            return [.. sums.Values];
        }

        // A user's runs by tag, a tag's by user or by tag (a run has one user but may have several tags, so a tag's runs by
        // tag include their other tags): pairs of facets, from facet_cross_rollups.
        var crossed = filterFacet is { } ff && group != GroupBy.Status && (ff.Facet != groupFacet || group == GroupBy.Tag);

        var window = RollupWindow.Split(filter.From, filter.To, TimeSpan.FromDays(1));
        foreach (var (from, to) in window.Edges)
        {
            await AddRawAsync(filter with { From = from, To = to }).ConfigureAwait(false);
        }

        if (window.HasInner && crossed)
        {
            var conditions = new ReportSql(_backend).Facets(filter, window.InnerFrom, window.InnerTo, filterFacet!.Value.Facet, filterFacet.Value.Value)
                .Add("\"ByFacet\" = {0}", groupFacet);
            var sql = $"""
                SELECT "ByValue" AS "Key", CAST(SUM("Runs") AS BIGINT) AS "Runs", CAST(SUM("Tokens") AS BIGINT) AS "Input", CAST(0 AS BIGINT) AS "Output",
                       CAST(SUM("CostNanoUsd") AS BIGINT) AS "Cost", CAST(SUM("UnpricedRuns") AS BIGINT) AS "Unpriced", CAST(0 AS BIGINT) AS "Up",
                       CAST(0 AS BIGINT) AS "Down"
                FROM "facet_cross_rollups" {conditions.WhereClause}
                GROUP BY "ByValue"
                """;
            await AddAsync(sql, conditions.Parameters).ConfigureAwait(false);
        }
        else if (window.HasInner)
        {
            var facet = group == GroupBy.Status ? filterFacet?.Facet ?? "" : groupFacet;
            var conditions = new ReportSql(_backend).Facets(filter, window.InnerFrom, window.InnerTo, facet, filterFacet?.Value);
            var key = group == GroupBy.Status ? "\"Status\"" : "\"Value\"";
            var sql = $"""
                SELECT {key} AS "Key", CAST(SUM("Runs") AS BIGINT) AS "Runs", CAST(SUM("UncachedInput" + "CachedInput") AS BIGINT) AS "Input",
                       CAST(SUM("NonReasoningOutput" + "Reasoning") AS BIGINT) AS "Output", CAST(SUM("CostNanoUsd") AS BIGINT) AS "Cost",
                       CAST(SUM("UnpricedRuns") AS BIGINT) AS "Unpriced", CAST(SUM("FeedbackUp") AS BIGINT) AS "Up", CAST(SUM("FeedbackDown") AS BIGINT) AS "Down"
                FROM "run_facet_rollups" {conditions.WhereClause}
                GROUP BY {key}
                """;
            await AddAsync(sql, conditions.Parameters).ConfigureAwait(false);
        }

        return [.. sums.Values];
    }

    /// <summary>One group's runs, tokens, cost, unpriced runs and ratings.</summary>
    private sealed class FacetRow
    {
        public string Key { get; init; } = "";
        public long Runs { get; init; }
        public long Input { get; init; }
        public long Output { get; init; }
        public long Cost { get; init; }
        public long Unpriced { get; init; }
        public long Up { get; init; }
        public long Down { get; init; }

        public FacetRow Add(FacetRow other) => new()
        {
            Key = Key, Runs = Runs + other.Runs, Input = Input + other.Input, Output = Output + other.Output, Cost = Cost + other.Cost,
            Unpriced = Unpriced + other.Unpriced, Up = Up + other.Up, Down = Down + other.Down,
        };
    }
}
