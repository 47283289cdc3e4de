using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>Which runs to list. Every filter is optional; together they narrow (AND).</summary>
public sealed record RunQuery
{
    /// <summary>Only runs that ended this way.</summary>
    public RunStatus? Status { get; init; }

    /// <summary>Only this agent preset (exact name).</summary>
    public string? Agent { get; init; }

    /// <summary>Only models whose id contains this (case-insensitive for ASCII).</summary>
    public string? Model { get; init; }

    /// <summary>Words in the question (case-insensitive for ASCII; % and _ match themselves).</summary>
    public string? Text { get; init; }

    /// <summary>Runs started at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Runs started before this instant.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Runs that cost at least this (unpriced runs drop out).</summary>
    public decimal? MinCostUsd { get; init; }

    /// <summary>Runs that cost at most this (unpriced runs drop out: their cost is unknown).</summary>
    public decimal? MaxCostUsd { get; init; }

    /// <summary>Only runs with this tag (exact).</summary>
    public string? Tag { get; init; }

    /// <summary>Only runs made for this user id (exact).</summary>
    public string? UserId { get; init; }

    /// <summary>Runs that took at least this long.</summary>
    public double? MinDurationMs { get; init; }

    /// <summary>Runs that took at most this long.</summary>
    public double? MaxDurationMs { get; init; }
}

/// <summary>One run as a list shows it.</summary>
public sealed record RunSummary(
    Guid Id, Guid SessionId, string Preset, string Model, string Query, RunStatus Status, DateTimeOffset StartedAt, double? DurationMs,
    double? TimeToFirstTokenMs, long InputTokens, long OutputTokens, decimal? CostUsd);

/// <summary>A page of runs and how many match in all.</summary>
public sealed record RunPage(IReadOnlyList<RunSummary> Runs, int Total);

/// <summary>
/// Every stored run, filtered and paged in the database, newest first: the Traces page lists all runs, not the latest
/// fifty. Thread-safe: each call uses its own context.
/// </summary>
public sealed class RunSearch
{
    /// <summary>The most runs one page returns.</summary>
    public const int MaxPageSize = 200;

    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal RunSearch(IDbContextFactory<StewardDbContext> contexts) => _contexts = contexts;

    /// <summary>Runs <paramref name="query"/> selects, newest first, <paramref name="take"/> from <paramref name="skip"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="skip"/> is negative or <paramref name="take"/> is not 1–200.</exception>
    public async Task<RunPage> SearchAsync(RunQuery query, int skip, int take, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfLessThan(take, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(take, MaxPageSize);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var runs = Filter(db.Runs.AsNoTracking(), query);
        var total = await runs.CountAsync(cancellationToken).ConfigureAwait(false);
        var rows = await NewestFirst(runs).Skip(skip).Take(take)
            .Select(r => new
            {
                r.Id, r.SessionId, r.PresetName, r.Model, r.Query, r.Status, r.StartedAt, r.DurationMs, r.TimeToFirstTokenMs, r.InputTokens, r.OutputTokens,
                r.CostNanoUsd,
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new RunPage(rows.Select(r => new RunSummary(
            r.Id, r.SessionId, r.PresetName, r.Model, r.Query, Enum.Parse<RunStatus>(r.Status), SessionStore.Utc(r.StartedAt), r.DurationMs,
            r.TimeToFirstTokenMs, r.InputTokens, r.OutputTokens, NanoUsd.ToUsd(r.CostNanoUsd))).ToArray(), total);
    }

    /// <summary>The agents that have runs, for a filter's choices.</summary>
    public async Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Runs.AsNoTracking().Select(r => r.PresetName).Distinct().OrderBy(p => p).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The order pages are read in.</summary>
    internal static IQueryable<RunRecord> NewestFirst(IQueryable<RunRecord> runs) => runs.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id);

    /// <summary>The runs <paramref name="query"/> selects, in no order (counted as they are, paged through <see cref="NewestFirst"/>).</summary>
    internal static IQueryable<RunRecord> Filter(IQueryable<RunRecord> runs, RunQuery query)
    {
        if (query.Status is { } status)
        {
            var name = status.ToString();
            runs = runs.Where(r => r.Status == name);
        }

        if (!string.IsNullOrWhiteSpace(query.Agent))
        {
            runs = runs.Where(r => r.PresetName == query.Agent);
        }

        if (!string.IsNullOrWhiteSpace(query.Tag))
        {
            var tag = query.Tag.Trim();
            runs = runs.Where(r => r.Tags.Any(t => t.Tag == tag));
        }

        if (!string.IsNullOrWhiteSpace(query.UserId))
        {
            var user = query.UserId.Trim();
            runs = runs.Where(r => r.UserId == user);
        }

        if (!string.IsNullOrWhiteSpace(query.Model))
        {
            var pattern = LikePattern.Contains(query.Model);
            runs = runs.Where(r => EF.Functions.Like(r.Model, pattern, "\\"));
        }

        if (!string.IsNullOrWhiteSpace(query.Text))
        {
            var pattern = LikePattern.Contains(query.Text);
            runs = runs.Where(r => EF.Functions.Like(r.Query, pattern, "\\"));
        }

        if (query.From is { } from)
        {
            var utc = from.UtcDateTime;
            runs = runs.Where(r => r.StartedAt >= utc);
        }

        if (query.To is { } to)
        {
            var utc = to.UtcDateTime;
            runs = runs.Where(r => r.StartedAt < utc);
        }

        if (NanoUsd.FromUsd(query.MinCostUsd) is { } min)
        {
            runs = runs.Where(r => r.CostNanoUsd >= min);
        }

        if (NanoUsd.FromUsd(query.MaxCostUsd) is { } max)
        {
            runs = runs.Where(r => r.CostNanoUsd <= max);
        }

        if (query.MinDurationMs is { } fastest)
        {
            runs = runs.Where(r => r.DurationMs >= fastest);
        }

        if (query.MaxDurationMs is { } slowest)
        {
            runs = runs.Where(r => r.DurationMs <= slowest);
        }

        return runs;
    }
}
