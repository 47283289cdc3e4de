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

    /// <summary>Every run that used tokens ran on a self-hosted model (so the session cost nothing, and says why).</summary>
    public bool SelfHosted { get; init; }

    /// <summary>
    /// The cost, saying so when some runs had no price (their cost is unknown, not zero), and why a self-hosted session
    /// cost nothing, as its answers' cards do.
    /// </summary>
    public string CostText => UnpricedRuns > 0 ? $"{Chat.MetricFormat.Usd(CostUsd ?? 0)} + {UnpricedRuns} unpriced"
        : SelfHosted ? Chat.MetricFormat.Cost(new Agents.RunCost(0m, SelfHosted: true))
        : Chat.MetricFormat.Usd(CostUsd);
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
        var rows = await query.OrderByDescending(s => s.UpdatedAt).ThenByDescending(s => s.Id).Skip(skip).Take(take)
            .Select(s => new
            {
                s.Id, s.Title, s.PresetName, s.CreatedAt, s.UpdatedAt,
                Runs = s.Runs.Count,
                Tokens = s.Runs.Sum(r => (long?)(r.InputTokens + r.OutputTokens)) ?? 0,
                Cost = s.Runs.Sum(r => r.CostNanoUsd),
                Unpriced = s.Runs.Count(r => r.CostNanoUsd == null && r.InputTokens + r.OutputTokens > 0),
                SelfHosted = s.Runs.Any(r => r.InputTokens + r.OutputTokens > 0)
                    && s.Runs.Where(r => r.InputTokens + r.OutputTokens > 0).All(r => r.Calls.Count > 0 && r.Calls.All(c => c.SelfHosted)),
                Quality = s.Runs.Join(db.Evaluations, r => r.Id, e => e.RunId, (r, e) => (double?)e.Score).Average(),
                Up = s.Runs.Count(r => r.Feedback != null && r.Feedback.Rating > 0),
                Down = s.Runs.Count(r => r.Feedback != null && r.Feedback.Rating < 0),
            })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new SessionPage(
            rows.Select(r => new SessionRow(r.Id, r.Title, r.PresetName, SessionStore.Utc(r.CreatedAt), SessionStore.Utc(r.UpdatedAt), r.Runs, r.Tokens, NanoUsd.ToUsd(r.Cost), r.Quality, r.Unpriced)
            {
                FeedbackUp = r.Up, FeedbackDown = r.Down, SelfHosted = r.SelfHosted,
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
            var pattern = LikePattern.Contains(filter.Text);
            // SQLite's LIKE ignores case (ASCII); PostgreSQL's ILIKE is its counterpart there.
            sessions = db.Database.ProviderName == "Npgsql.EntityFrameworkCore.PostgreSQL"
                ? sessions.Where(s => EF.Functions.ILike(s.Title, pattern, "\\") || s.Runs.Any(r => EF.Functions.ILike(r.Query, pattern, "\\")))
                : sessions.Where(s => EF.Functions.Like(s.Title, pattern, "\\") || s.Runs.Any(r => EF.Functions.Like(r.Query, pattern, "\\")));
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
            var eval = Steward.Calls.ModelCallStore.PurposeName(Steward.Calls.ModelCallPurpose.Eval);
            sessions = sessions.Where(s => !s.Runs.Any() || s.Runs.Any(r => r.Purpose != eval));
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
            sessions = sessions.Where(s => (s.Runs.Sum(r => r.CostNanoUsd) ?? 0) >= min);
        }

        if (NanoUsd.FromUsd(filter.MaxCostUsd) is { } max)
        {
            sessions = sessions.Where(s => (s.Runs.Sum(r => r.CostNanoUsd) ?? 0) <= max);
        }

        if (filter.MinQuality is { } quality)
        {
            // From the session's runs (indexed by session) to their evaluations (keyed by run): never a scan per session.
            sessions = sessions.Where(s => s.Runs.Join(db.Evaluations, r => r.Id, e => e.RunId, (r, e) => (double?)e.Score).Average() >= quality);
        }

        return sessions;
    }
}
