using System.Text;
using Steward.Agents;

namespace Steward.Web.Chat;

/// <summary>
/// One question and its answer as the Chat page shows it, built up from the run's progress events. Not thread-safe:
/// the page applies events on its renderer's dispatcher.
/// </summary>
internal sealed class ChatTurn(string query, IReadOnlyList<string>? tags = null)
{
    private readonly StringBuilder _answer = new();
    private readonly List<RunProgress> _log = [];
    private readonly HashSet<RunStage> _reached = [];
    private readonly List<ToolCallProgress> _tools = [];
    private readonly List<Steward.Tools.ToolApprovalRequest> _approvals = [];

    public string Query { get; } = query;

    /// <summary>The tags the run was asked with, in the order a stored run shows them.</summary>
    public IReadOnlyList<string> Tags { get; } = [.. (tags ?? []).Order(StringComparer.Ordinal)];

    public string Answer => Response is { Status: RunStatus.Completed } r ? r.Text : _answer.ToString();

    public RunStage Stage { get; private set; } = RunStage.Initializing;

    public IReadOnlySet<RunStage> Reached => _reached;

    /// <summary>Stage events and notes (not text deltas), for the expandable progress log.</summary>
    public IReadOnlyList<RunProgress> Log => _log;

    public RunMetrics? Metrics { get; private set; }

    /// <summary>The run's tool calls so far: each shown when it starts and updated when it ends.</summary>
    public IReadOnlyList<ToolCallProgress> ToolCalls => Response is { ToolCalls.Count: > 0 } r ? r.ToolCalls : _tools;

    /// <summary>Tool calls waiting for the person's Approve or Deny.</summary>
    public IReadOnlyList<Steward.Tools.ToolApprovalRequest> PendingApprovals => _approvals;

    /// <summary>The person answered (or the run moved on): the request stops being shown.</summary>
    public void Answered(string requestId) => _approvals.RemoveAll(a => a.Id == requestId);

    public AgentResponse? Response { get; private set; }

    /// <summary>The answer's quality: scored after delivery, so it arrives as a later event.</summary>
    public QualityResult? Quality => Response?.Quality ?? _quality;

    /// <summary>The answer is delivered and being scored in the background.</summary>
    public bool IsScoring => Response is { EvaluationPending: true } && Quality is null && !_scoringOver;

    private QualityResult? _quality;
    private bool _scoringOver;

    /// <summary>
    /// Scoring ended: with its result, or with none when the evaluation queue skipped the answer (full, stopping, or
    /// scoring failed), so nothing says "scoring…" for an answer that will never be scored.
    /// </summary>
    public void ScoringEnded(QualityResult? quality)
    {
        _quality ??= quality;
        _scoringOver = true;
    }

    public bool IsFinished => Response is not null || Stage is RunStage.Completed or RunStage.Failed or RunStage.Cancelled or RunStage.BudgetExceeded;

    /// <summary>Whether the answer text is being streamed right now.</summary>
    public bool IsStreaming => !IsFinished && Stage == RunStage.Running;

    public void Apply(RunProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        Metrics = progress.Metrics;
        if (progress.TextDelta is { } delta)
        {
            _answer.Append(delta);
            return;
        }

        if (progress.ToolCall is { } call)
        {
            var index = _tools.FindLastIndex(t => t.CallId == call.CallId);
            if (index >= 0)
            {
                _tools[index] = call;
            }
            else
            {
                _tools.Add(call);
            }

            _approvals.RemoveAll(a => a.CallId == call.CallId && call.Completed);
        }

        if (progress.Approval is { } approval)
        {
            _approvals.Add(approval);
        }

        if (progress.Quality is { } quality)
        {
            _quality = quality;
            if (Response is not null)
            {
                // Scored after delivery: the run's stage stays where it ended, and its scoring badge shows done.
                _reached.Add(RunStage.Evaluating);
                _log.Add(progress);
                return;
            }
        }

        Stage = progress.Stage;
        _reached.Add(progress.Stage);
        _log.Add(progress);
        if (progress.Response is { } response)
        {
            Complete(response);
        }
    }

    /// <summary>The run returned: its response is the final word, even if a terminal event was never seen.</summary>
    public void Complete(AgentResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        Response = response;
        _approvals.Clear();
        Metrics = new RunMetrics(response.Usage, response.Duration, response.TimeToFirstToken, response.Cost);
        Stage = response.Status switch
        {
            RunStatus.Completed => RunStage.Completed,
            RunStatus.Cancelled => RunStage.Cancelled,
            RunStatus.BudgetExceeded => RunStage.BudgetExceeded,
            _ => RunStage.Failed,
        };
        _reached.Add(Stage);
    }
}
