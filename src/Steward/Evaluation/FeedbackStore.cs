using Microsoft.EntityFrameworkCore;
using Steward.Sessions;
using Steward.Storage;

namespace Steward.Evaluation;

/// <summary>Thumbs up or down on an answer.</summary>
public enum FeedbackRating
{
    /// <summary>Thumbs down: the answer did not help.</summary>
    Down = -1,

    /// <summary>Thumbs up: the answer helped.</summary>
    Up = 1,
}

/// <summary>A person's rating of one run's answer.</summary>
/// <param name="RunId">The rated run.</param>
/// <param name="Rating">Up or down.</param>
/// <param name="Comment">What they said, if anything.</param>
/// <param name="Source">Where it was given: <c>web</c>, <c>cli</c>, <c>api</c> or <c>import</c>.</param>
/// <param name="GivenAt">When (the latest rating replaces earlier ones).</param>
public sealed record RunFeedback(Guid RunId, FeedbackRating Rating, string? Comment, string Source, DateTimeOffset GivenAt)
{
    /// <summary>As a score on the evaluators' 0–100 scale: 100 for up, 0 for down.</summary>
    public double Score => Rating == FeedbackRating.Up ? 100 : 0;
}

/// <summary>How many answers were rated up and down.</summary>
/// <param name="Up">Thumbs up.</param>
/// <param name="Down">Thumbs down.</param>
public sealed record FeedbackSummary(long Up, long Down)
{
    /// <summary>Answers rated at all.</summary>
    public long Total => Up + Down;

    /// <summary>Share rated up, 0–100; none when nothing was rated.</summary>
    public double? PercentUp => Total == 0 ? null : 100.0 * Up / Total;
}

/// <summary>
/// People's feedback on answers (web, CLI, API), stored beside the evaluators' scores: one rating per run, a later one
/// replacing the earlier. The answer itself is never touched. Thread-safe: every call uses its own context.
/// </summary>
public sealed class FeedbackStore
{
    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _writeLock;
    private readonly TimeProvider _time;

    internal FeedbackStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend writeLock, TimeProvider time)
    {
        _contexts = contexts;
        _writeLock = writeLock;
        _time = time;
    }

    /// <summary>Rates a run's answer (replacing an earlier rating of it).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="rating">Up or down.</param>
    /// <param name="comment">Optional, at most 2,000 characters; blank is none.</param>
    /// <param name="source">Where it was given: <c>web</c>, <c>cli</c> or <c>api</c>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">The rating is not up or down, or the comment is too long.</exception>
    /// <exception cref="SessionNotFoundException">No run with that id.</exception>
    public async Task<RunFeedback> GiveAsync(Guid runId, FeedbackRating rating, string? comment, string source, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(rating))
        {
            throw new ArgumentException($"A rating is up or down, not {(int)rating}.", nameof(rating));
        }

        comment = string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();
        if (comment is { Length: > FeedbackRecord.MaxCommentLength })
        {
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The comment is {comment.Length:N0} characters long; feedback takes at most {FeedbackRecord.MaxCommentLength:N0}."), nameof(comment));
        }

        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (!await db.Runs.AnyAsync(r => r.Id == runId, cancellationToken).ConfigureAwait(false))
        {
            throw new SessionNotFoundException($"No run with id {runId}: only a stored answer can be rated.");
        }

        var record = new FeedbackRecord { RunId = runId, Rating = (int)rating, Comment = comment, Source = source, GivenAt = _time.GetUtcNow().UtcDateTime };
        using var _ = await _writeLock.EnterWriteAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await db.Feedback.Where(f => f.RunId == runId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        db.Feedback.Add(record);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ToFeedback(record);
    }

    /// <summary>The feedback on these runs, by run (runs nobody rated are absent).</summary>
    public async Task<IReadOnlyDictionary<Guid, RunFeedback>> LoadAsync(IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.Feedback.AsNoTracking().Where(f => runIds.Contains(f.RunId)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return records.ToDictionary(f => f.RunId, ToFeedback);
    }

    internal static RunFeedback ToFeedback(FeedbackRecord f) =>
        new(f.RunId, f.Rating > 0 ? FeedbackRating.Up : FeedbackRating.Down, f.Comment, f.Source, SessionStore.Utc(f.GivenAt));
}
