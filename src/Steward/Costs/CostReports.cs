using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Costs;

/// <summary>
/// The cost report over the stored runs: the one read model the CLI (<c>steward costs</c>) and the web UI (Analytics)
/// both use. The database groups the filtered runs once, by day bucket (<see cref="StorageBackend.DayBucket"/>: days
/// of the requested time zone), agent, provider and model, into a few hundred rows however many runs there are; the
/// totals and the breakdowns by agent, model, day and week are rolled up from those rows, so they always agree.
/// Costs are nano-USD integers (exact, and summable where decimals are not). Thread-safe.
/// </summary>
internal sealed class CostReports(IDbContextFactory<StewardDbContext> dbFactory, StorageBackend backend)
{
    /// <summary>Totals and the breakdowns by agent, model, day and week.</summary>
    /// <param name="filter">Which runs.</param>
    /// <param name="timeZone">Where days begin; default UTC.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    public async Task<CostReport> GetReportAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        timeZone ??= TimeZoneInfo.Utc;
        var sums = new Breakdown();
        // UTC days read the daily rollups; any other zone's days are summed from the hourly ones (every run's, or a user's or
        // tag's), each UTC hour into the day it lies in, and the one hour a day in which a half-hour zone's day begins from the runs.
        if (filter.SessionId is null && !filter.CrossesFacets)
        {
            await AddFromRollupsAsync(sums, filter, timeZone, daily: RollupWindow.IsUtc(timeZone), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // A session's few runs, or a user and a tag together (no rollup holds both): through their indexes.
            sums.Add(await GetGroupsAsync(filter, timeZone, cancellationToken).ConfigureAwait(false));
        }

        var judges = await GetJudgesByDayAsync(filter, timeZone, cancellationToken).ConfigureAwait(false);
        var byDay = sums.Days.Select(d => new PeriodCost(d.Key, d.Value)).OrderBy(d => d.Start).ToArray();
        return new CostReport(
            filter, timeZone.Id, byDay.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)),
            [.. sums.Agents.Select(a => new AgentCost(a.Key, a.Value))
                .OrderByDescending(a => a.Summary.CostUsd).ThenBy(a => a.Agent, StringComparer.Ordinal)],
            [.. sums.Models.Select(m => new ModelCost(m.Key.Provider, m.Key.Model, m.Value))
                .OrderByDescending(m => m.Summary.CostUsd).ThenBy(m => m.Provider, StringComparer.Ordinal).ThenBy(m => m.Model, StringComparer.Ordinal)],
            byDay, ToWeeks(byDay))
        {
            Judges = judges.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)),
            JudgesByDay = judges,
        };
    }

    /// <summary>
    /// The report from the rollups the database's triggers keep: <c>run_rollups</c> (every run by UTC hour),
    /// <c>facet_hour_rollups</c> (a user's or tag's by UTC hour) or, when <paramref name="daily"/>, <c>run_facet_rollups</c>
    /// (UTC days, every run's or a facet's): the whole hours (days) of the filter by hour (day), and by agent and model from
    /// the whole UTC days among them (daily rows) and the hours around those; the ragged ends of a daily read from the hourly
    /// rollups, those of an hourly read from the runs themselves. A few grouped reads of rollups, however many runs there are.
    /// </summary>
    private async Task AddFromRollupsAsync(Breakdown sums, CostFilter filter, TimeZoneInfo zone, bool daily, CancellationToken cancellationToken)
    {
        var facet = filter.FacetFilter;
        var window = RollupWindow.Split(filter.From, filter.To, daily ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1));
        foreach (var (from, to) in window.Edges)
        {
            if (daily)
            {
                await AddFromRollupsAsync(sums, filter with { From = from, To = to }, zone, daily: false, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                sums.Add(await GetGroupsAsync(filter with { From = from, To = to }, zone, cancellationToken).ConfigureAwait(false));
            }
        }

        if (!window.HasInner)
        {
            return;
        }

        ReportSql Conditions(bool byDay, DateTime? from, DateTime? to) => (byDay, facet) switch
        {
            (true, _) => new ReportSql(backend).Facets(filter, from, to, facet?.Facet ?? "", facet?.Value ?? ""),
            (false, { } f) => new ReportSql(backend).Facets(filter, from, to, f.Facet, f.Value, "Hour"),
            _ => new ReportSql(backend).Rollup(filter, "Hour", from, to),
        };
        var hourTable = facet is null ? "run_rollups" : "facet_hour_rollups";
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        async Task<List<AggregateRow<T>>> ReadAsync<T>(bool byDay, DateTime? from, DateTime? to, string key, string groupBy)
        {
            var conditions = Conditions(byDay, from, to);
            // Only column and table names are spliced in; every value is a parameter.
            var sql = $"""SELECT {key} AS "Key", {RollupSumColumns} FROM "{(byDay ? "run_facet_rollups" : hourTable)}" {conditions.WhereClause} GROUP BY {groupBy}""";
            return await db.Database.SqlQueryRaw<AggregateRow<T>>(sql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        var time = daily ? "\"Day\"" : "\"Hour\"";
        var splitHours = new List<(DateTime From, DateTime To)>();
        foreach (var hour in await ReadAsync<DateTime>(daily, window.InnerFrom, window.InnerTo, time, time).ConfigureAwait(false))
        {
            var start = DateTime.SpecifyKind(hour.Key, DateTimeKind.Utc);
            if (!daily && RollupWindow.SplitsDay(zone, start))
            {
                splitHours.Add((start, start.AddHours(1)));
                continue;
            }

            sums.AddDay(DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(start, zone)), hour.ToSummary());
        }

        // A day begins inside these hours (a half- or quarter-hour zone, one hour a day): their runs by day from the runs
        // themselves, a twenty-fourth of the window's; their agents and models come from the rollups below with the rest.
        foreach (var hours in splitHours.Chunk(ReportSql.MaxRangesPerQuery))
        {
            foreach (var group in await GetGroupsAsync(filter, zone, cancellationToken, hours).ConfigureAwait(false))
            {
                sums.AddDay(group.Day, group.Summary);
            }
        }

        // Agents and models need only the window's bounds, not its days: the whole UTC days from the daily rows (a
        // twenty-fourth of the hourly ones), the hours at either end from the hourly rows; one grouped read by both per part.
        var days = daily ? window : RollupWindow.Split(Utc(window.InnerFrom), Utc(window.InnerTo), TimeSpan.FromDays(1));
        var parts = daily ? [] : days.Edges.Select(e => (ByDay: false, From: (DateTime?)e.From.UtcDateTime, To: (DateTime?)e.To.UtcDateTime)).ToList();
        if (days.HasInner)
        {
            parts.Add((true, days.InnerFrom, days.InnerTo));
        }

        var separator = backend.Provider == StorageProvider.Postgres ? "chr(31)" : "char(31)";
        var key = $"\"PresetName\" || {separator} || \"Provider\" || {separator} || \"Model\"";
        foreach (var part in parts)
        {
            foreach (var row in await ReadAsync<string>(part.ByDay, part.From, part.To, key, "\"PresetName\", \"Provider\", \"Model\"").ConfigureAwait(false))
            {
                // The separator (unit separator, U+001F) cannot occur in a preset, provider or model name.
                var names = row.Key.Split('\u001f');
                sums.AddAgent(names[0], row.ToSummary());
                sums.AddModel(names[1], names[2], row.ToSummary());
            }
        }
    }

    private static DateTimeOffset? Utc(DateTime? time) => time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;

    /// <summary>The columns of <see cref="Sums"/>, summed over rollup rows.</summary>
    private const string RollupSumColumns = """
        CAST(SUM("Runs") AS BIGINT) AS "Runs", CAST(SUM("PricedRuns") AS BIGINT) AS "PricedRuns", CAST(SUM("UnpricedRuns") AS BIGINT) AS "UnpricedRuns",
        CAST(SUM("CostNanoUsd") AS BIGINT) AS "CostNanoUsd", CAST(SUM("UncachedInput") AS BIGINT) AS "UncachedInput",
        CAST(SUM("CachedInput") AS BIGINT) AS "CachedInput", CAST(SUM("NonReasoningOutput") AS BIGINT) AS "NonReasoningOutput",
        CAST(SUM("Reasoning") AS BIGINT) AS "Reasoning"
        """;

    /// <summary>The report's three breakdowns, added up from whichever parts (rollups, raw rows) the filter needs.</summary>
    private sealed class Breakdown
    {
        public Dictionary<DateOnly, CostSummary> Days { get; } = [];
        public Dictionary<string, CostSummary> Agents { get; } = new(StringComparer.Ordinal);
        public Dictionary<(string Provider, string Model), CostSummary> Models { get; } = [];

        public void Add(IEnumerable<CostGroup> groups)
        {
            foreach (var g in groups)
            {
                AddDay(g.Day, g.Summary);
                AddAgent(g.Agent, g.Summary);
                AddModel(g.Provider, g.Model, g.Summary);
            }
        }

        public void AddDay(DateOnly day, CostSummary summary) => Days[day] = Days.TryGetValue(day, out var s) ? s.Add(summary) : summary;

        public void AddAgent(string agent, CostSummary summary) => Agents[agent] = Agents.TryGetValue(agent, out var s) ? s.Add(summary) : summary;

        public void AddModel(string provider, string model, CostSummary summary) =>
            Models[(provider, model)] = Models.TryGetValue((provider, model), out var s) ? s.Add(summary) : summary;
    }

    /// <summary>Totals over the filtered runs.</summary>
    public async Task<CostSummary> GetTotalsAsync(CostFilter filter, CancellationToken cancellationToken = default) =>
        (await GetReportAsync(filter, null, cancellationToken).ConfigureAwait(false)).Totals;

    /// <summary>By day (in <paramref name="timeZone"/>, default UTC), oldest first; days without runs are left out.</summary>
    public async Task<IReadOnlyList<PeriodCost>> GetByDayAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default) =>
        (await GetReportAsync(filter, timeZone, cancellationToken).ConfigureAwait(false)).ByDay;

    /// <summary>One grouped pass over the filtered runs (only those within <paramref name="hours"/> when given): sums by local day, agent, provider and model.</summary>
    private async Task<IReadOnlyList<CostGroup>> GetGroupsAsync(
        CostFilter filter, TimeZoneInfo zone, CancellationToken cancellationToken, IEnumerable<(DateTime From, DateTime To)>? hours = null)
    {
        var conditions = new ReportSql(backend);
        var ranges = hours is null ? "" : conditions.FromWithin("\"runs\".\"StartedAt\"", hours);
        conditions.Runs(filter);

        var sql = $"""
            SELECT {backend.DayBucket("\"StartedAt\"", zone)} AS "Bucket", "PresetName" AS "Agent", "Provider", "Model",
                   {SumColumns}
            FROM {ranges}"runs"
            {conditions.WhereClause}
            GROUP BY 1, 2, 3, 4
            """;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Database.SqlQueryRaw<GroupRow>(sql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        // Buckets finer than a day (SQLite outside UTC) are added up into their day here.
        return [.. rows.GroupBy(r => (Day: backend.DayOf(r.Bucket, zone), r.Agent, r.Provider, r.Model))
            .Select(g => new CostGroup(g.Key.Day, g.Key.Agent, g.Key.Provider, g.Key.Model,
                g.Select(r => r.ToSummary()).Aggregate(CostSummary.Empty, (a, b) => a.Add(b))))];
    }

    /// <summary>The columns of <see cref="Sums"/>, summed over the runs of a group.</summary>
    private const string SumColumns = """
        COUNT(*) AS "Runs",
                   COUNT("CostNanoUsd") AS "PricedRuns",
                   CAST(SUM(CASE WHEN "CostNanoUsd" IS NULL AND "InputTokens" + "OutputTokens" > 0 THEN 1 ELSE 0 END) AS BIGINT) AS "UnpricedRuns",
                   CAST(COALESCE(SUM("CostNanoUsd"), 0) AS BIGINT) AS "CostNanoUsd",
                   CAST(SUM("InputTokens" - "CachedInputTokens") AS BIGINT) AS "UncachedInput",
                   CAST(SUM("CachedInputTokens") AS BIGINT) AS "CachedInput",
                   CAST(SUM("OutputTokens" - "ReasoningTokens") AS BIGINT) AS "NonReasoningOutput",
                   CAST(SUM("ReasoningTokens") AS BIGINT) AS "Reasoning"
        """;

    /// <summary>What the gateway's keys used over the filtered runs, by key id (runs made without a key left out).</summary>
    public async Task<IReadOnlyList<(string KeyId, CostSummary Summary)>> GetByApiKeyAsync(CostFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var conditions = new ReportSql(backend).Runs(filter);
        var where = conditions.WhereClause.Length == 0 ? "WHERE \"ApiKeyId\" IS NOT NULL" : conditions.WhereClause + " AND \"ApiKeyId\" IS NOT NULL";
        var sql = $"""
            SELECT "ApiKeyId" AS "Key", {SumColumns}
            FROM "runs"
            {where}
            GROUP BY "ApiKeyId"
            """;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Database.SqlQueryRaw<AggregateRow<string>>(sql, [.. conditions.Parameters]).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => (r.Key, r.ToSummary()))];
    }

    /// <summary>
    /// What LLM-as-judge calls cost, by day (in <paramref name="timeZone"/>), apart from the runs whose answers they
    /// scored: <see cref="CostSummary.Runs"/> counts judge calls. The filter's agent and session are those of the scored
    /// runs; its model and provider, the judge's.
    /// </summary>
    public async Task<IReadOnlyList<PeriodCost>> GetJudgesByDayAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        // From the table: a judge's call is never kept on a run's row, and the view's other half would scan every run.
        var calls = db.ModelCalls.FromSqlRaw($"SELECT * FROM \"{InlineCall.RowsTable}\"").AsNoTracking().Where(c => c.Purpose == "judge");
        if (filter.From is { } from)
        {
            var utc = from.UtcDateTime;
            calls = calls.Where(c => c.StartedAt >= utc);
        }

        if (filter.To is { } to)
        {
            var utc = to.UtcDateTime;
            calls = calls.Where(c => c.StartedAt < utc);
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            calls = calls.Where(c => c.PresetName == filter.Agent);
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            calls = calls.Where(c => c.Model == filter.Model);
        }

        if (!string.IsNullOrEmpty(filter.Provider))
        {
            calls = calls.Where(c => c.Provider == filter.Provider);
        }

        if (filter.SessionId is { } session)
        {
            calls = calls.Where(c => db.Runs.Any(r => r.Id == c.RunId && r.SessionId == session));
        }

        if (!string.IsNullOrEmpty(filter.UserId))
        {
            calls = calls.Where(c => db.Runs.Any(r => r.Id == c.RunId && r.UserId == filter.UserId));
        }

        if (!string.IsNullOrEmpty(filter.Tag))
        {
            calls = calls.Where(c => db.RunTags.Any(t => t.RunId == c.RunId && t.Tag == filter.Tag));
        }

        // Judge calls are few (a handful per scored answer): grouped by UTC quarter hour in the database, then by local day.
        var quarters = await calls
            .GroupBy(c => new QuarterHour { Date = c.StartedAt.Date, Hour = c.StartedAt.Hour, Quarter = c.StartedAt.Minute / 15 })
            .Select(g => new AggregateRow<QuarterHour>
            {
                Key = g.Key,
                Runs = g.LongCount(),
                PricedRuns = g.LongCount(c => c.CostNanoUsd != null),
                UnpricedRuns = g.LongCount(c => c.CostNanoUsd == null && c.InputTokens + c.OutputTokens > 0),
                CostNanoUsd = g.Sum(c => c.CostNanoUsd) ?? 0,
                UncachedInput = g.Sum(c => c.InputTokens - c.CachedInputTokens),
                CachedInput = g.Sum(c => c.CachedInputTokens),
                NonReasoningOutput = g.Sum(c => c.OutputTokens - c.ReasoningTokens),
                Reasoning = g.Sum(c => c.ReasoningTokens),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var zone = timeZone ?? TimeZoneInfo.Utc;
        return [.. quarters
            .GroupBy(q => DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(
                DateTime.SpecifyKind(q.Key.Date.AddHours(q.Key.Hour).AddMinutes(q.Key.Quarter * 15), DateTimeKind.Utc), zone)))
            .Select(g => new PeriodCost(g.Key, g.Select(q => q.ToSummary()).Aggregate(CostSummary.Empty, (a, b) => a.Add(b))))
            .OrderBy(d => d.Start)];
    }

    internal static IQueryable<RunRecord> Filtered(StewardDbContext db, CostFilter filter)
    {
        var runs = db.Runs.AsNoTracking();
        if (filter.From is { } from)
        {
            var utc = from.UtcDateTime;
            runs = runs.Where(r => r.StartedAt >= utc);
        }

        if (filter.To is { } to)
        {
            var utc = to.UtcDateTime;
            runs = runs.Where(r => r.StartedAt < utc);
        }

        if (!string.IsNullOrEmpty(filter.Agent))
        {
            runs = runs.Where(r => r.PresetName == filter.Agent);
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            runs = runs.Where(r => r.Model == filter.Model);
        }

        if (!string.IsNullOrEmpty(filter.Provider))
        {
            runs = runs.Where(r => r.Provider == filter.Provider);
        }

        if (filter.SessionId is { } session)
        {
            runs = runs.Where(r => r.SessionId == session);
        }

        if (!string.IsNullOrEmpty(filter.UserId))
        {
            runs = runs.Where(r => r.UserId == filter.UserId);
        }

        if (!string.IsNullOrEmpty(filter.Tag))
        {
            runs = runs.Where(r => r.Tags.Any(t => t.Tag == filter.Tag));
        }

        return runs;
    }

    private static IReadOnlyList<PeriodCost> ToWeeks(IReadOnlyList<PeriodCost> days) =>
    [
        .. days
            .GroupBy(d => d.Start.AddDays(-(((int)d.Start.DayOfWeek + 6) % 7)))
            .Select(g => new PeriodCost(g.Key, g.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b))))
            .OrderBy(w => w.Start),
    ];

    private sealed record CostGroup(DateOnly Day, string Agent, string Provider, string Model, CostSummary Summary);

    private sealed class GroupRow : Sums
    {
        public string Bucket { get; init; } = "";
        public string Agent { get; init; } = "";
        public string Provider { get; init; } = "";
        public string Model { get; init; } = "";
    }

    /// <summary>The sums every cost grouping reads back.</summary>
    internal abstract class Sums
    {
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

    internal sealed class AggregateRow<TKey> : Sums
    {
        public TKey Key { get; init; } = default!;
    }

    internal sealed class QuarterHour
    {
        public DateTime Date { get; init; }
        public int Hour { get; init; }
        public int Quarter { get; init; }
    }
}
