using Steward.Agents;
using Steward.Sessions;

namespace Steward.Web.Chat;

/// <summary>One stored exchange: the question, the answer (none when the run failed), and the run that made it.</summary>
public sealed record StoredTurn(string Query, string? Answer, SessionRun? Run)
{
    /// <summary>Where the run ended, as a stage badge says it.</summary>
    public RunStage Stage => Run?.Status switch
    {
        null or RunStatus.Completed => RunStage.Completed,
        RunStatus.Cancelled => RunStage.Cancelled,
        RunStatus.BudgetExceeded => RunStage.BudgetExceeded,
        _ => RunStage.Failed,
    };

    /// <summary>The stages the run's progress log reached, plus where it ended.</summary>
    public IReadOnlySet<RunStage> Reached => Run is null ? new HashSet<RunStage> { Stage } : [.. Run.Events.Select(e => e.Stage), Stage];

    /// <summary>What is shown as the answer: the answer, else what streamed before the run ended.</summary>
    public string Text => Answer ?? Run?.PartialAnswer ?? "";

    /// <summary>The numbers its cards show; none for a message of no stored run.</summary>
    public RunMetrics? Metrics => Run is { } r
        ? new RunMetrics(r.Usage, TimeSpan.FromMilliseconds(r.DurationMs ?? 0), r.TimeToFirstTokenMs is { } t ? TimeSpan.FromMilliseconds(t) : null, r.Cost)
        : null;
}

/// <summary>
/// A stored session as the turns of its conversation, in the order they were asked: runs without an answer (failed,
/// cancelled, refused by a budget) keep their place, so reopening a conversation shows what the person saw.
/// </summary>
internal static class StoredConversation
{
    public static IReadOnlyList<StoredTurn> Turns(ChatSessionDetail detail)
    {
        ArgumentNullException.ThrowIfNull(detail);
        var byRun = detail.Messages.Where(m => m.RunId is not null).ToLookup(m => m.RunId!.Value);
        var turns = new List<StoredTurn>(detail.Runs.Count);

        // Messages of no stored run (none are written that way today; an older import might hold some) come first.
        string? pending = null;
        foreach (var message in detail.Messages.Where(m => m.RunId is null || !detail.Runs.Any(r => r.Id == m.RunId)))
        {
            if (message.Role == "user")
            {
                if (pending is not null)
                {
                    turns.Add(new StoredTurn(pending, null, null));
                }

                pending = message.Content;
            }
            else
            {
                turns.Add(new StoredTurn(pending ?? "", message.Content, null));
                pending = null;
            }
        }

        if (pending is not null)
        {
            turns.Add(new StoredTurn(pending, null, null));
        }

        foreach (var run in detail.Runs.OrderBy(r => r.StartedAt).ThenBy(r => r.Id))
        {
            var messages = byRun[run.Id];
            var query = messages.FirstOrDefault(m => m.Role == "user")?.Content ?? run.Query;
            var answer = messages.FirstOrDefault(m => m.Role != "user")?.Content;
            turns.Add(new StoredTurn(query, answer, run));
        }

        return turns;
    }
}
