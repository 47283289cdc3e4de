using Steward.Agents;
using Steward.Sessions;

namespace Steward.Web.Api;

/// <summary>A stored run as the API shows it: the same rows History reads, with the answer, the quality and the feedback.</summary>
internal sealed class StoredRuns(StoredSessions sessions, ApiRuns tracked)
{
    /// <summary>The run <paramref name="id"/> with its stored progress log, or <see langword="null"/> when no run has that id.</summary>
    public async Task<(RunResult Result, IReadOnlyList<SessionRunEvent> Events)?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        if (await sessions.FindSessionOfRunAsync(id, cancellationToken).ConfigureAwait(false) is not { } sessionId)
        {
            return null;
        }

        ChatSessionDetail session;
        try
        {
            session = await sessions.GetAsync(sessionId, cancellationToken).ConfigureAwait(false);
        }
        catch (SessionNotFoundException)
        {
            // Deleted between the two reads.
            return null;
        }

        var run = session.Runs.FirstOrDefault(r => r.Id == id);
        if (run is null)
        {
            return null;
        }

        var quality = (await sessions.GetQualityAsync([id], cancellationToken).ConfigureAwait(false)).GetValueOrDefault(id);
        var live = tracked.Find(id);
        var pending = live is { IsClosed: false } && run.Status == RunStatus.Completed
            && live.Finished.Task is { IsCompletedSuccessfully: true } finished && finished.Result.EvaluationPending;
        var result = RunResult.From(session, run, quality, pending);
        if (live?.Finished.Task is { IsCompletedSuccessfully: true } done && done.Result.Error is { } error)
        {
            result = result with { ErrorCode = error.Code };
        }

        return (result, run.Events);
    }
}
