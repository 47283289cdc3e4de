using Microsoft.EntityFrameworkCore;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Web.History;

/// <summary>What the History page filters on. Every filter is optional; together they narrow (AND).</summary>
internal sealed record SessionFilter
{
    /// <summary>Words in the session's title or in any question asked in it (case-insensitive for ASCII).</summary>
    public string? Text { get; init; }

    public string? Agent { get; init; }

    /// <summary>Last activity at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Last activity before this instant.</summary>
    public DateTimeOffset? To { get; init; }

    public decimal? MinCostUsd { get; init; }

    public decimal? MaxCostUsd { get; init; }

    /// <summary>Sessions whose scored answers average at least this quality (0–100); unscored sessions drop out.</summary>
    public double? MinQuality { get; init; }

    /// <summary>
    /// Include the sessions of evaluation cases (every run made by <c>steward eval</c>). Off by default: a batch of a
    /// hundred cases would otherwise bury the conversations people had.
    /// </summary>
    public bool IncludeEvaluation { get; init; }
}

/// <summary>One session as a History row.</summary>
internal sealed record SessionRow(
    Guid Id, string Title, string Preset, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int Runs, long Tokens, decimal? CostUsd, double? Quality,
    int UnpricedRuns)
{
    /// <summary>Answers people rated up in this session.</summary>
    public int FeedbackUp { get; init; }

    /// <summary>Answers people rated down in this session.</summary>
    public int FeedbackDown { get; init; }

    /// <summary>The ratings in short ("👍 2 · 👎 1"), or a dash when nobody rated an answer.</summary>
    public string FeedbackText => FeedbackUp + FeedbackDown == 0 ? "—" : $"👍 {FeedbackUp} · 👎 {FeedbackDown}";

    /// <summary>The cost, saying so when some runs had no price (their cost is unknown, not zero).</summary>
    public string CostText => UnpricedRuns == 0 ? Chat.MetricFormat.Usd(CostUsd) : $"{Chat.MetricFormat.Usd(CostUsd ?? 0)} + {UnpricedRuns} unpriced";
}

/// <summary>A page of rows and how many match in all.</summary>
internal sealed record SessionPage(IReadOnlyList<SessionRow> Rows, int Total);

/// <summary>
/// Searches stored sessions for the History page: filtering, counting, sums and paging all happen in the database,
/// newest activity first. Thread-safe: each call uses its own context.
/// </summary>
internal sealed class SessionSearch(IDbContextFactory<StewardDbContext> contexts)
{
    public const int MaxPageSize = 200;

    public async Task<SessionPage> SearchAsync(SessionFilter filter, int skip, int take, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(take, MaxPageSize);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = Filter(db, db.Sessions.AsNoTracking(), filter);
        var total = await query.CountAsync(cancellationToken).ConfigureAwait(false);
        // Every figure is the session's own summary row (kept by the database's triggers with each run, score and rating).
        var rows = await query.OrderByDescending(s => s.UpdatedAt).ThenByDescending(s => s.Id).Skip(skip).Take(take)
            .Select(s => new
            {
                s.Id, s.Title, s.PresetName, s.CreatedAt, s.UpdatedAt,
                Runs = s.RunCount,
                s.Tokens,
                Cost = s.PricedRuns > 0 ? (long?)s.CostNanoUsd : null,
                Unpriced = s.UnpricedRuns,
                Quality = s.Scored > 0 ? (double?)(s.ScoreSum / s.Scored) : null,
                Up = s.FeedbackUp,
                Down = s.FeedbackDown,
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new SessionPage(
            rows.Select(r => new SessionRow(r.Id, r.Title, r.PresetName, SessionStore.Utc(r.CreatedAt), SessionStore.Utc(r.UpdatedAt), r.Runs, r.Tokens, NanoUsd.ToUsd(r.Cost), r.Quality, r.Unpriced)
            {
                FeedbackUp = r.Up, FeedbackDown = r.Down,
            }).ToArray(),
            total);
    }

    /// <summary>The presets that have sessions, for the agent filter.</summary>
    public async Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().Select(s => s.PresetName).Distinct().OrderBy(p => p).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static IQueryable<SessionRecord> Filter(StewardDbContext db, IQueryable<SessionRecord> sessions, SessionFilter filter)
    {
        if (!string.IsNullOrWhiteSpace(filter.Text))
        {
            sessions = TextSearch.Matching(db, sessions, filter.Text);
        }

        if (!string.IsNullOrWhiteSpace(filter.Agent))
        {
            sessions = sessions.Where(s => s.PresetName == filter.Agent);
        }

        if (!filter.IncludeEvaluation)
        {
            sessions = sessions.Where(s => s.RunCount == 0 || s.EvalRuns < s.RunCount);
        }

        if (filter.From is { } from)
        {
            var utc = from.UtcDateTime;
            sessions = sessions.Where(s => s.UpdatedAt >= utc);
        }

        if (filter.To is { } to)
        {
            var utc = to.UtcDateTime;
            sessions = sessions.Where(s => s.UpdatedAt < utc);
        }

        if (NanoUsd.FromUsd(filter.MinCostUsd) is { } min)
        {
            sessions = sessions.Where(s => s.CostNanoUsd >= min);
        }

        if (NanoUsd.FromUsd(filter.MaxCostUsd) is { } max)
        {
            sessions = sessions.Where(s => s.CostNanoUsd <= max);
        }

        if (filter.MinQuality is { } quality)
        {
            sessions = sessions.Where(s => s.Scored > 0 && s.ScoreSum >= quality * s.Scored);
        }

        return sessions;
    }
}
