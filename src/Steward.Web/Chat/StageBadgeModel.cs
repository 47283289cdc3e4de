using Steward.Agents;

namespace Steward.Web.Chat;

/// <summary>How one pipeline stage looks in the badge row.</summary>
internal enum StageBadgeState
{
    Pending,
    Current,
    Done,
    Skipped,
    Succeeded,
    Failed,
}

/// <summary>One badge: the stage, its label and its state.</summary>
internal sealed record StageBadge(RunStage Stage, string Label, StageBadgeState State);

/// <summary>
/// Lays out the stage badges of a run: the four working stages in order, then the one terminal stage. A stage the run
/// never reached before finishing (say it failed while checking the budget) is shown skipped, not pending.
/// </summary>
internal static class StageBadgeModel
{
    private static readonly RunStage[] WorkingStages = [RunStage.Initializing, RunStage.CheckingBudget, RunStage.Running, RunStage.Evaluating];

    public static string Label(RunStage stage) => stage switch
    {
        RunStage.Initializing => "Initializing",
        RunStage.CheckingBudget => "Checking budget",
        RunStage.Running => "Running",
        RunStage.Evaluating => "Evaluating",
        RunStage.Completed => "Completed",
        RunStage.Failed => "Failed",
        RunStage.Cancelled => "Cancelled",
        RunStage.BudgetExceeded => "Budget exceeded",
        _ => stage.ToString(),
    };

    public static IReadOnlyList<StageBadge> Build(RunStage current, IReadOnlySet<RunStage> reached)
    {
        ArgumentNullException.ThrowIfNull(reached);
        var terminal = current is RunStage.Completed or RunStage.Failed or RunStage.Cancelled or RunStage.BudgetExceeded;
        var currentIndex = Array.IndexOf(WorkingStages, current);
        var badges = new List<StageBadge>(WorkingStages.Length + 1);
        for (var i = 0; i < WorkingStages.Length; i++)
        {
            var stage = WorkingStages[i];
            var state = reached.Contains(stage) ? StageBadgeState.Done : terminal ? StageBadgeState.Skipped : StageBadgeState.Pending;
            if (!terminal && i == currentIndex)
            {
                state = StageBadgeState.Current;
            }

            badges.Add(new StageBadge(stage, Label(stage), state));
        }

        badges.Add(terminal
            ? new StageBadge(current, Label(current), current == RunStage.Completed ? StageBadgeState.Succeeded : StageBadgeState.Failed)
            : new StageBadge(RunStage.Completed, Label(RunStage.Completed), StageBadgeState.Pending));
        return badges;
    }
}
