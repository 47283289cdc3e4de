using Steward.Agents;
using Steward.Web.Chat;

namespace Steward.Web.Tests.Components;

public sealed class ChatTurnTests
{
    private static readonly Guid RunId = Guid.NewGuid();

    private static RunProgress Event(RunStage stage, string message = "", long output = 0) =>
        new(RunId, stage, message, DateTimeOffset.UnixEpoch, new RunMetrics(new RunUsage(10, 0, output, 0), TimeSpan.FromSeconds(1), null, null));

    [Fact]
    public void Apply_TextDeltas_BuildTheAnswerWithoutEnteringTheLog()
    {
        var turn = new ChatTurn("q");
        turn.Apply(Event(RunStage.Initializing, "Preparing"));
        turn.Apply(Event(RunStage.Running, "Asking"));
        turn.Apply(Event(RunStage.Running) with { TextDelta = "Hel" });
        turn.Apply(Event(RunStage.Running, output: 2) with { TextDelta = "lo" });

        Assert.Equal("Hello", turn.Answer);
        Assert.True(turn.IsStreaming);
        Assert.Equal(2, turn.Log.Count);
        Assert.Equal(2, turn.Metrics!.Usage.OutputTokens);
    }

    [Fact]
    public void ScoringEnded_QueueSkippedTheAnswer_TheScoringBadgeEnds()
    {
        var turn = new ChatTurn("q");
        turn.Complete(new AgentResponse { RunId = RunId, Status = RunStatus.Completed, Preset = "p", Text = "Answer.", EvaluationPending = true });
        Assert.True(turn.IsScoring);

        turn.ScoringEnded(null);

        Assert.False(turn.IsScoring);
        Assert.Null(turn.Quality);
    }

    [Fact]
    public void ScoringEnded_AfterTheQualityEvent_KeepsTheScore()
    {
        var turn = new ChatTurn("q");
        var quality = new QualityResult(90, true, []);
        turn.Complete(new AgentResponse { RunId = RunId, Status = RunStatus.Completed, Preset = "p", Text = "Answer.", EvaluationPending = true });
        turn.Apply(Event(RunStage.Evaluating, "Quality 90/100") with { Quality = quality });

        turn.ScoringEnded(new QualityResult(10, false, []));

        Assert.Same(quality, turn.Quality);
        Assert.False(turn.IsScoring);
    }

    [Fact]
    public void Apply_QualityAfterDelivery_EndsScoringAndTheRunStaysCompleted()
    {
        var turn = new ChatTurn("q");
        var quality = new QualityResult(90, true, []);
        turn.Apply(Event(RunStage.Running) with { TextDelta = "Answer." });
        turn.Apply(Event(RunStage.Completed, "Done") with
        {
            Response = new AgentResponse { RunId = RunId, Status = RunStatus.Completed, Preset = "p", Text = "Answer.", EvaluationPending = true },
        });

        Assert.True(turn.IsScoring);
        Assert.Null(turn.Quality);

        turn.Apply(Event(RunStage.Evaluating, "Quality 90/100") with { Quality = quality });

        Assert.Same(quality, turn.Quality);
        Assert.False(turn.IsScoring);
        Assert.Equal(RunStage.Completed, turn.Stage);
        Assert.True(turn.IsFinished);
        Assert.Equal("Answer.", turn.Answer);
        // The badge row shows the scoring done, not skipped (it stayed outlined beside the score).
        Assert.Equal(StageBadgeState.Done, StageBadgeModel.Build(turn.Stage, turn.Reached).Single(b => b.Stage == RunStage.Evaluating).State);
    }

    [Fact]
    public void Complete_CancelledRun_EndsCancelledAndKeepsWhatStreamed()
    {
        var turn = new ChatTurn("q");
        turn.Apply(Event(RunStage.Running) with { TextDelta = "partial" });
        turn.Complete(new AgentResponse { RunId = RunId, Status = RunStatus.Cancelled, Preset = "p", Error = new RunError("cancelled", "Stopped.") });

        Assert.Equal(RunStage.Cancelled, turn.Stage);
        Assert.True(turn.IsFinished);
        Assert.Equal("partial", turn.Answer);
        Assert.Contains(RunStage.Cancelled, turn.Reached);
    }

    [Fact]
    public void Complete_Completed_TakesTheStoredTextOverTheStreamedOne()
    {
        var turn = new ChatTurn("q");
        turn.Apply(Event(RunStage.Running) with { TextDelta = "draft" });
        turn.Complete(new AgentResponse { RunId = RunId, Status = RunStatus.Completed, Preset = "p", Text = "final", Usage = new RunUsage(5, 0, 7, 0) });

        Assert.Equal("final", turn.Answer);
        Assert.Equal(7, turn.Metrics!.Usage.OutputTokens);
    }
}
