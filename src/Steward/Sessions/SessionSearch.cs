using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>Which sessions History lists (and exports the runs of). Every filter is optional; together they narrow (AND).</summary>
public sealed record SessionFilter
{
    /// <summary>Words in the session's title or in any question asked in it (case-insensitive for ASCII).</summary>
    public string? Text { get; init; }

    /// <summary>Only sessions of this agent preset (exact name).</summary>
    public string? Agent { get; init; }

    /// <summary>Last activity at or after this instant.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Last activity before this instant.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Sessions whose priced runs cost at least this much in all.</summary>
    public decimal? MinCostUsd { get; init; }

    /// <summary>Sessions whose priced runs cost at most this much in all.</summary>
    public decimal? MaxCostUsd { get; init; }

    /// <summary>Sessions with a run tagged so (exact).</summary>
    public string? Tag { get; init; }

    /// <summary>Sessions with a run made for this user id (exact).</summary>
    public string? UserId { get; init; }

    /// <summary>Sessions whose scored answers average at least this quality (0–100); unscored sessions drop out.</summary>
    public double? MinQuality { get; init; }

    /// <summary>
    /// Include the sessions of evaluation cases (every run made by <c>steward eval</c>). Off by default: a batch of a
    /// hundred cases would otherwise bury the conversations people had.
    /// </summary>
    public bool IncludeEvaluation { get; init; }
}

/// <summary>One session as a History row.</summary>
/// <param name="Id">The session.</param>
/// <param name="Title">Its title.</param>
/// <param name="Preset">Its agent preset.</param>
/// <param name="CreatedAt">When it began.</param>
/// <param name="UpdatedAt">Its last activity.</param>
/// <param name="Runs">Runs in it.</param>
/// <param name="Tokens">Input plus output tokens of its runs.</param>
/// <param name="CostUsd">What its priced runs cost; <see langword="null"/> when none is priced.</param>
/// <param name="Quality">The mean quality score of its scored answers (0–100); <see langword="null"/> when none is scored.</param>
/// <param name="UnpricedRuns">Runs that used tokens but have no price (their cost is unknown, not zero).</param>
public sealed record SessionRow(
    Guid Id, string Title, string Preset, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int Runs, long Tokens, decimal? CostUsd, double? Quality,
    int UnpricedRuns)
{
    /// <summary>Answers people rated up in this session.</summary>
    public int FeedbackUp { get; init; }

    /// <summary>Answers people rated down in this session.</summary>
    public int FeedbackDown { get; init; }

    /// <summary>
    /// Every run that used tokens was priced at nothing (a self-hosted model), so the session cost nothing and says why.
    /// Read off the session's summary: priced runs, no unpriced ones, tokens used, zero cost.
    /// </summary>
    public bool SelfHosted { get; init; }
}

/// <summary>A page of rows and how many match in all (counted up to a little past the page).</summary>
/// <param name="Rows">The page, newest activity first.</param>
/// <param name="Total">
/// How many sessions match in all; when <see cref="TotalIsLowerBound"/>, at least this many (the count stops
/// <see cref="SessionSearch.CountAhead"/> sessions past the page).
/// </param>
public sealed record SessionPage(IReadOnlyList<SessionRow> Rows, int Total)
{
    /// <summary>More sessions match than <see cref="Total"/>: show it as "1,025+".</summary>
    public bool TotalIsLowerBound { get; init; }
}

/// <summary>
/// Searches stored sessions (the History view): filtering, counting and paging happen in the database on each session's
/// summary row, newest activity first, so a page costs the same on a million runs as on a hundred. Thread-safe: each call
/// uses its own context.
/// </summary>
public sealed class SessionSearch
{
    /// <summary>The most sessions one page returns.</summary>
    public const int MaxPageSize = 200;

    /// <summary>How many matching sessions past the page are counted before the total is given as a lower bound.</summary>
    public const int CountAhead = 1_000;

    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly int _countAhead;

    internal SessionSearch(IDbContextFactory<StewardDbContext> contexts, int countAhead = CountAhead)
    {
        _contexts = contexts;
        _countAhead = countAhead;
    }

    /// <summary>
    /// The sessions <paramref name="filter"/> selects, <paramref name="take"/> from <paramref name="skip"/>, and how many match
    /// (exactly up to <see cref="CountAhead"/> past the page, else a lower bound).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="skip"/> is negative or <paramref name="take"/> is over 200.</exception>
    public async Task<SessionPage> SearchAsync(SessionFilter filter, int skip, int take, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(take, MaxPageSize);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = Filter(db, db.Sessions.AsNoTracking(), filter);
        // Counting every match would walk the whole History index (200,000 sessions at a million runs) for each page; a pager
        // needs only to know what lies a little past the page, so the count stops there and says it is a lower bound.
        var limit = skip + take + _countAhead;
        int counted;
        IQueryable<SessionRecord> pageSessions;
        var ordered = query.OrderByDescending(s => s.UpdatedAt).ThenByDescending(s => s.Id).Select(s => s.Id);
        if (string.IsNullOrWhiteSpace(filter.Text))
        {
            counted = await query.Select(s => s.Id).Take(limit + 1).CountAsync(cancellationToken).ConfigureAwait(false);
            // The page's ids first, from the History indexes alone (they hold every column a filter reads), then only those
            // sessions' rows: skipping 10,000 sessions to page 400 then steps over index entries, not over table rows.
            var page = ordered.Skip(skip).Take(take);
            pageSessions = db.Sessions.AsNoTracking().Where(s => page.Contains(s.Id));
        }
        else
        {
            // A text index hands over all its matches at once, so counting and paging separately would search twice: the
            // matches' ids are taken once, in page order, as far as the count goes, and the page is cut from them.
            var ids = await ordered.Take(limit + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
            counted = ids.Count;
            var pageIds = ids.Skip(skip).Take(take).ToArray();
            pageSessions = db.Sessions.AsNoTracking().Where(s => pageIds.Contains(s.Id));
        }

        // Every figure is the session's own summary row (kept by the database's triggers with each run, score and rating).
        var rows = await pageSessions.OrderByDescending(s => s.UpdatedAt).ThenByDescending(s => s.Id)
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
                FreeAndUsed = s.PricedRuns > 0 && s.UnpricedRuns == 0 && s.Tokens > 0 && s.CostNanoUsd == 0,
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var selfHosted = await SelfHostedAsync(db, [.. rows.Where(r => r.FreeAndUsed).Select(r => r.Id)], cancellationToken).ConfigureAwait(false);
        return new SessionPage(
            rows.Select(r => new SessionRow(r.Id, r.Title, r.PresetName, SessionStore.Utc(r.CreatedAt), SessionStore.Utc(r.UpdatedAt), r.Runs, r.Tokens, NanoUsd.ToUsd(r.Cost), r.Quality, r.Unpriced)
            {
                FeedbackUp = r.Up, FeedbackDown = r.Down, SelfHosted = selfHosted.Contains(r.Id),
            }).ToArray(),
            Math.Min(counted, limit))
        {
            TotalIsLowerBound = counted > limit,
        };
    }

    /// <summary>
    /// Of sessions that used tokens and cost nothing, those whose every token-using run ran on self-hosted models (a
    /// cloud model priced at nothing stays "$0"). Asked only for the page's rows, so it never scans the whole table.
    /// </summary>
    private static async Task<HashSet<Guid>> SelfHostedAsync(StewardDbContext db, Guid[] sessions, CancellationToken cancellationToken)
    {
        if (sessions.Length == 0)
        {
            return [];
        }

        var notSelfHosted = await db.Runs.AsNoTracking()
            .Where(r => sessions.Contains(r.SessionId) && r.InputTokens + r.OutputTokens > 0 && (!r.Calls.Any() || r.Calls.Any(c => !c.SelfHosted)))
            .Select(r => r.SessionId).Distinct().ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. sessions.Except(notSelfHosted)];
    }

    /// <summary>The presets that have sessions, for the agent filter.</summary>
    public async Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().Select(s => s.PresetName).Distinct().OrderBy(p => p).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sessions <paramref name="filter"/> selects, as a query on <paramref name="db"/> (History's list and the run export share it).</summary>
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

        if (!string.IsNullOrWhiteSpace(filter.Tag))
        {
            var tag = filter.Tag.Trim();
            sessions = sessions.Where(s => s.Runs.Any(r => r.Tags.Any(t => t.Tag == tag)));
        }

        if (!string.IsNullOrWhiteSpace(filter.UserId))
        {
            var user = filter.UserId.Trim();
            sessions = sessions.Where(s => s.Runs.Any(r => r.UserId == user));
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
