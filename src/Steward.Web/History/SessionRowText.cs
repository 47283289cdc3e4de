using Steward.Sessions;

namespace Steward.Web.History;

/// <summary>How the History list words a session's cost and ratings.</summary>
internal static class SessionRowText
{
    extension(SessionRow row)
    {
        /// <summary>The ratings in short ("👍 2 · 👎 1"), or a dash when nobody rated an answer.</summary>
        public string FeedbackText => row.FeedbackUp + row.FeedbackDown == 0 ? "—" : $"👍 {row.FeedbackUp} · 👎 {row.FeedbackDown}";

        /// <summary>
        /// The cost, saying so when some runs had no price (their cost is unknown, not zero), and why a self-hosted session
        /// cost nothing, as its answers' cards do.
        /// </summary>
        public string CostText => row.UnpricedRuns > 0 ? $"{Chat.MetricFormat.Usd(row.CostUsd ?? 0)} + {row.UnpricedRuns} unpriced"
            : row.SelfHosted ? Chat.MetricFormat.Cost(new Agents.RunCost(0m, SelfHosted: true))
            : Chat.MetricFormat.Usd(row.CostUsd);
    }
}
