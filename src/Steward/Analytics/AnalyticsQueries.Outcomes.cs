using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Costs;
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

/// <summary>Nearest-rank percentiles of the time to first token, in milliseconds, over the runs that streamed anything.</summary>
public sealed record TimeToFirstTokenPercentiles(long Runs, double? P50, double? P95);

// Run outcomes for Analytics and `steward costs`: usage and cost by status, and time to first token, grouped and ranked
// by the database over the same filter as the cost report.
public sealed partial class AnalyticsQueries
{
    /// <summary>Usage and cost of the runs <paramref name="filter"/> selects, by how they ended.</summary>
    public async Task<RunOutcomeReport> GetByStatusAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await CostReports.Filtered(db, filter)
            .GroupBy(r => r.Status)
            .Select(g => new
            {
                Status = g.Key,
                Runs = g.LongCount(),
                Input = g.Sum(r => r.InputTokens),
                Output = g.Sum(r => r.OutputTokens),
                Cost = g.Sum(r => r.CostNanoUsd),
                Unpriced = g.LongCount(r => r.CostNanoUsd == null && r.InputTokens + r.OutputTokens > 0),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new RunOutcomeReport([.. rows
            .Select(r => new RunStatusUsage(Enum.Parse<RunStatus>(r.Status),
                r.Runs, r.Input, r.Output, NanoUsd.ToUsd(r.Cost) ?? 0m, r.Unpriced))
            .OrderByDescending(s => s.Runs).ThenBy(s => s.Status)]);
    }

    /// <summary>
    /// Time to first token of the runs <paramref name="filter"/> selects that streamed anything, whatever their status
    /// (a run stopped after its first words still shows how long people waited for them).
    /// </summary>
    public async Task<TimeToFirstTokenPercentiles> GetTimeToFirstTokenAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var times = CostReports.Filtered(db, filter).Where(r => r.TimeToFirstTokenMs != null).Select(r => r.TimeToFirstTokenMs!.Value);
        var count = await times.LongCountAsync(cancellationToken).ConfigureAwait(false);
        if (count == 0)
        {
            return new TimeToFirstTokenPercentiles(0, null, null);
        }

        async Task<double> AtAsync(int percent)
        {
            var rank = Math.Max(1, (count * percent + 99) / 100);
            return await times.OrderBy(t => t).Skip((int)(rank - 1)).FirstAsync(cancellationToken).ConfigureAwait(false);
        }

        return new TimeToFirstTokenPercentiles(count, await AtAsync(50).ConfigureAwait(false), await AtAsync(95).ConfigureAwait(false));
    }

    /// <summary>Cost by the user each run was made for (runs without a user id left out), most expensive first.</summary>
    public async Task<IReadOnlyList<GroupUsage>> GetCostByUserAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await SumByKeyAsync(CostReports.Filtered(db, filter).Where(r => r.UserId != null)
            .Select(r => new KeyedRun { Key = r.UserId!, InputTokens = r.InputTokens, OutputTokens = r.OutputTokens, CostNanoUsd = r.CostNanoUsd }),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Cost by tag (a run counts under each of its tags; untagged runs left out), most expensive first.</summary>
    public async Task<IReadOnlyList<GroupUsage>> GetCostByTagAsync(CostFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await SumByKeyAsync(db.RunTags.AsNoTracking().Join(CostReports.Filtered(db, filter), t => t.RunId, r => r.Id,
                (t, r) => new KeyedRun { Key = t.Tag, InputTokens = r.InputTokens, OutputTokens = r.OutputTokens, CostNanoUsd = r.CostNanoUsd }),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs, tokens and cost per key, summed by the database.</summary>
    private static async Task<IReadOnlyList<GroupUsage>> SumByKeyAsync(IQueryable<KeyedRun> runs, CancellationToken cancellationToken)
    {
        var rows = await runs.GroupBy(r => r.Key)
            .Select(g => new
            {
                g.Key,
                Runs = g.LongCount(),
                Tokens = g.Sum(r => r.InputTokens + r.OutputTokens),
                Cost = g.Sum(r => r.CostNanoUsd),
                Unpriced = g.LongCount(r => r.CostNanoUsd == null && r.InputTokens + r.OutputTokens > 0),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new GroupUsage(r.Key, r.Runs, r.Tokens, NanoUsd.ToUsd(r.Cost) ?? 0m, r.Unpriced))
            .OrderByDescending(r => r.CostUsd).ThenByDescending(r => r.Tokens).ThenBy(r => r.Key, StringComparer.Ordinal)];
    }

    /// <summary>A run's usage under one key (its user, or one of its tags).</summary>
    private sealed class KeyedRun
    {
        public string Key { get; init; } = "";
        public long InputTokens { get; init; }
        public long OutputTokens { get; init; }
        public long? CostNanoUsd { get; init; }
    }
}
