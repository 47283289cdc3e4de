using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Costs;

/// <summary>
/// Cost reports over the stored runs. Every grouping and sum runs in the database (cost is stored as nano-USD
/// integers because SQLite cannot sum decimals); only the handful of result rows are shaped in memory. Thread-safe.
/// </summary>
internal sealed class CostReports(IDbContextFactory<StewardDbContext> dbFactory)
{

    /// <summary>Totals and the breakdowns by agent, model, day and week.</summary>
    /// <param name="filter">Which runs.</param>
    /// <param name="timeZone">Where days begin; default UTC.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    public async Task<CostReport> GetReportAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        timeZone ??= TimeZoneInfo.Utc;
        var totals = await GetTotalsAsync(filter, cancellationToken).ConfigureAwait(false);
        var byAgent = await GetByAgentAsync(filter, cancellationToken).ConfigureAwait(false);
        var byModel = await GetByModelAsync(filter, cancellationToken).ConfigureAwait(false);
        var byDay = await GetByDayAsync(filter, timeZone, cancellationToken).ConfigureAwait(false);
        var judges = await GetJudgesByDayAsync(filter, timeZone, cancellationToken).ConfigureAwait(false);
        return new CostReport(filter, timeZone.Id, totals, byAgent, byModel, byDay, ToWeeks(byDay))
        {
            Judges = judges.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b)),
            JudgesByDay = judges,
        };
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
        var calls = db.ModelCalls.AsNoTracking().Where(c => c.Purpose == "judge");
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

    /// <summary>Totals over the filtered runs.</summary>
    public async Task<CostSummary> GetTotalsAsync(CostFilter filter, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var row = await Aggregate(Filtered(db, filter), r => 1).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return row is null ? CostSummary.Empty : row.ToSummary();
    }

    /// <summary>By agent preset, most expensive first.</summary>
    public async Task<IReadOnlyList<AgentCost>> GetByAgentAsync(CostFilter filter, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await Aggregate(Filtered(db, filter), r => r.PresetName).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new AgentCost(r.Key, r.ToSummary())).OrderByDescending(a => a.Summary.CostUsd).ThenBy(a => a.Agent, StringComparer.Ordinal)];
    }

    /// <summary>By provider and model, most expensive first.</summary>
    public async Task<IReadOnlyList<ModelCost>> GetByModelAsync(CostFilter filter, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await Aggregate(Filtered(db, filter), r => new ProviderModel { Provider = r.Provider, Model = r.Model })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new ModelCost(r.Key.Provider, r.Key.Model, r.ToSummary()))
            .OrderByDescending(m => m.Summary.CostUsd).ThenBy(m => m.Provider, StringComparer.Ordinal).ThenBy(m => m.Model, StringComparer.Ordinal)];
    }

    /// <summary>By day, oldest first; days without runs are left out.</summary>
    /// <param name="filter">Which runs.</param>
    /// <param name="timeZone">Where days begin; default UTC.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<IReadOnlyList<PeriodCost>> GetByDayAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var runs = Filtered(db, filter);
        if (timeZone is null || timeZone.Equals(TimeZoneInfo.Utc))
        {
            var days = await ByUtcDayQuery(runs).ToListAsync(cancellationToken).ConfigureAwait(false);
            return [.. days.Select(d => new PeriodCost(DateOnly.FromDateTime(d.Key), d.ToSummary())).OrderBy(d => d.Start)];
        }

        // Every UTC offset in use is a whole number of quarter hours, and so is every daylight-saving change: the
        // database sums by UTC quarter hour, and each quarter hour falls wholly in one local day.
        var quarters = await ByUtcQuarterHourQuery(runs).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. quarters
            .GroupBy(q => DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(
                DateTime.SpecifyKind(q.Key.Date.AddHours(q.Key.Hour).AddMinutes(q.Key.Quarter * 15), DateTimeKind.Utc), timeZone)))
            .Select(g => new PeriodCost(g.Key, g.Select(q => q.ToSummary()).Aggregate(CostSummary.Empty, (a, b) => a.Add(b))))
            .OrderBy(d => d.Start)];
    }

    /// <summary>By week (Monday to Sunday), oldest first.</summary>
    /// <param name="filter">Which runs.</param>
    /// <param name="timeZone">Where days begin; default UTC.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<IReadOnlyList<PeriodCost>> GetByWeekAsync(CostFilter filter, TimeZoneInfo? timeZone = null, CancellationToken cancellationToken = default) =>
        ToWeeks(await GetByDayAsync(filter, timeZone, cancellationToken).ConfigureAwait(false));

    /// <summary>The by-day query (exposed so tests can check it translates to SQL).</summary>
    internal static IQueryable<AggregateRow<DateTime>> ByUtcDayQuery(IQueryable<RunRecord> runs) => Aggregate(runs, r => r.StartedAt.Date);

    internal static IQueryable<AggregateRow<QuarterHour>> ByUtcQuarterHourQuery(IQueryable<RunRecord> runs) =>
        Aggregate(runs, r => new QuarterHour { Date = r.StartedAt.Date, Hour = r.StartedAt.Hour, Quarter = r.StartedAt.Minute / 15 });

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

        return runs;
    }

    private static IQueryable<AggregateRow<TKey>> Aggregate<TKey>(IQueryable<RunRecord> runs, Expression<Func<RunRecord, TKey>> key) =>
        runs.GroupBy(key).Select(g => new AggregateRow<TKey>
        {
            Key = g.Key,
            Runs = g.LongCount(),
            PricedRuns = g.LongCount(r => r.CostNanoUsd != null),
            UnpricedRuns = g.LongCount(r => r.CostNanoUsd == null && r.InputTokens + r.OutputTokens > 0),
            CostNanoUsd = g.Sum(r => r.CostNanoUsd) ?? 0,
            UncachedInput = g.Sum(r => r.InputTokens - r.CachedInputTokens),
            CachedInput = g.Sum(r => r.CachedInputTokens),
            NonReasoningOutput = g.Sum(r => r.OutputTokens - r.ReasoningTokens),
            Reasoning = g.Sum(r => r.ReasoningTokens),
        });

    private static IReadOnlyList<PeriodCost> ToWeeks(IReadOnlyList<PeriodCost> days) =>
    [
        .. days
            .GroupBy(d => d.Start.AddDays(-(((int)d.Start.DayOfWeek + 6) % 7)))
            .Select(g => new PeriodCost(g.Key, g.Select(d => d.Summary).Aggregate(CostSummary.Empty, (a, b) => a.Add(b))))
            .OrderBy(w => w.Start),
    ];

    internal sealed class AggregateRow<TKey>
    {
        public TKey Key { get; init; } = default!;
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

    internal sealed class ProviderModel
    {
        public string Provider { get; init; } = "";
        public string Model { get; init; } = "";
    }

    internal sealed class QuarterHour
    {
        public DateTime Date { get; init; }
        public int Hour { get; init; }
        public int Quarter { get; init; }
    }
}
