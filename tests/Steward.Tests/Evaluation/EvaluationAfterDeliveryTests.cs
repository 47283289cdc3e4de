using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Budgets;
using Steward.Costs;
using Steward.Storage;
using Steward.Tests.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

/// <summary>
/// Scoring happens after the answer is delivered and stored, on its own cancellation: stopping the request (or
/// closing the tab) while the answer is scored changes nothing about the answer, and the judge's calls are governed
/// like any other: budgeted against the agent's budgets, priced, recorded and reported apart.
/// </summary>
public sealed class EvaluationAfterDeliveryTests : EngineTest
{
    private const string Answer = "The main risks are cost and lock-in.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<(string Kind, DateTimeOffset At)> _served = [];

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Evaluation:Judge"] = "fake:judge-model";
        settings["Steward:Pricing:Models:judge-model:Input"] = "1";
        settings["Steward:Pricing:Models:judge-model:Output"] = "2";
        settings["Steward:Pricing:Models:fake-model:Input"] = "1";
        settings["Steward:Pricing:Models:fake-model:Output"] = "2";
    }

    private async Task StartAsync(TimeSpan judgeDelay)
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "judged.yaml"),
            TestEngine.Preset("judged", "evaluators: [relevance]\nbudget:\n  daily_cost_usd: 100"), Ct);
        Server.Reply = request =>
        {
            var judge = request.Body.Contains("You judge one quality only", StringComparison.Ordinal);
            lock (_served)
            {
                _served.Add((judge ? "judge" : "agent", DateTimeOffset.UtcNow));
            }

            return judge
                ? new FakeReply { Chunks = ["""{"score": 5, "reason": "On point."}"""], DelayBetweenChunks = judgeDelay }
                : new FakeReply { Chunks = [Answer] };
        };
    }

    [Fact]
    public async Task RunAsync_SessionDeletedWhileTheAnswerStreams_AnswerIsDeliveredAndNothingOfTheSessionComesBack()
    {
        await StartAsync(judgeDelay: TimeSpan.Zero);
        var answer = Server.Reply;
        Server.Reply = request => answer(request) with { DelayBetweenChunks = TimeSpan.FromMilliseconds(50) };
        var sessions = Engine.Get<Steward.Sessions.StoredSessions>();
        Guid? deleted = null;

        // Someone deletes the conversation from History while its answer is still streaming in the chat.
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "Risks?" }, async p =>
        {
            if (p.TextDelta is not null && deleted is null)
            {
                deleted = await sessions.FindSessionOfRunAsync(p.RunId, Ct);
                await sessions.DeleteAsync(deleted!.Value, Ct);
            }
        }, Ct);

        Assert.Equal((RunStatus.Completed, Answer), (response.Status, response.Text));
        // Nothing to score it against: the run's row went with its session, so it is not queued to fail.
        Assert.False(response.EvaluationPending);
        Assert.Equal(0, Engine.Get<Steward.Evaluation.EvaluationQueue>().Skipped);
        Assert.Null(await Engine.Runner.WaitForQualityAsync(response.RunId, Ct));
        await Assert.ThrowsAsync<Steward.Sessions.SessionNotFoundException>(() => sessions.GetAsync(deleted!.Value, Ct));
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.False(await db.Runs.AnyAsync(r => r.Id == response.RunId, Ct));
        Assert.Single(Server.Requests); // the agent's call only: no judge call
    }

    [Fact]
    public async Task RunAsync_CallerStopsWhileTheAnswerIsScored_AnswerStaysCompletedAndItsScoreIsStored()
    {
        await StartAsync(judgeDelay: TimeSpan.FromMilliseconds(300));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // The listener is the browser tab: it goes away as soon as the answer is complete, while scoring runs.
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "Risks?" }, async p =>
        {
            if (p.Stage == RunStage.Completed)
            {
                await stop.CancelAsync();
            }
        }, stop.Token);

        Assert.Equal((RunStatus.Completed, Answer), (response.Status, response.Text));
        Assert.True(response.EvaluationPending);
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, Ct);
        Assert.NotNull(quality);
        Assert.Equal(5, Assert.Single(quality.Metrics).Value);

        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var run = await db.Runs.Include(r => r.Events).SingleAsync(r => r.Id == response.RunId, Ct);
        Assert.Equal(("Completed", "scored"), (run.Status, run.EvaluationStatus));
        Assert.Contains(run.Events, e => e.Message.StartsWith("Quality 100/100", StringComparison.Ordinal));
        Assert.Equal(["user", "assistant"], await db.Messages.Where(m => m.RunId == run.Id).OrderBy(m => m.Sequence).Select(m => m.Role).ToListAsync(Ct));
        Assert.NotNull(await db.Evaluations.SingleOrDefaultAsync(e => e.RunId == run.Id, Ct));
    }

    [Fact]
    public async Task RunAsync_JudgeCalls_ComeAfterDeliveryAndAreBudgetedPricedAndReportedApart()
    {
        await StartAsync(judgeDelay: TimeSpan.Zero);
        DateTimeOffset? deliveredAt = null;

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "Risks?" }, p =>
        {
            if (p.Stage == RunStage.Completed)
            {
                deliveredAt = DateTimeOffset.UtcNow;
            }

            return ValueTask.CompletedTask;
        }, Ct);
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, Ct);

        // The judge was asked only once the answer was delivered.
        Assert.NotNull(deliveredAt);
        var judged = _served.Where(s => s.Kind == "judge").ToList();
        Assert.Single(judged);
        Assert.True(judged[0].At >= deliveredAt.Value);

        // Priced: 12 input and 7 output tokens at $1 / $2 per million, for the answer and for the judge alike.
        var expected = (12 * 1m + 7 * 2m) / 1_000_000m;
        Assert.Equal(expected, response.Cost.Usd);
        Assert.Equal(expected, quality!.JudgeCost!.Cost.Usd);

        // Budgeted: the agent's daily budget counts the answer and its scoring.
        var period = BudgetPeriods.Key(BudgetPeriod.Daily, DateTimeOffset.UtcNow, TimeZoneInfo.Utc);
        var counter = await BudgetTestSupport.CounterAsync(Engine, "agent:judged", period);
        Assert.Equal((2 * (12 + 7), Steward.Storage.NanoUsd.FromUsd(2 * expected)), (counter.SpentTokens, (long?)counter.SpentNanoUsd));

        // Recorded: one agent call with the run, one judge call with the evaluation; reported as its own series.
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var calls = await db.ModelCalls.Where(c => c.RunId == response.RunId).OrderBy(c => c.Purpose).Select(c => new { c.Purpose, c.Id }).ToListAsync(Ct);
        Assert.Equal(["agent", "judge"], calls.Select(c => c.Purpose));
        // The answer's call has the run's id; the judge's, made for the same run, one of its own.
        Assert.Equal(response.RunId, calls[0].Id);
        Assert.NotEqual(response.RunId, calls[1].Id);
        var report = await Engine.Get<CostReports>().GetReportAsync(new CostFilter(), cancellationToken: Ct);
        Assert.Equal(expected, report.Totals.CostUsd); // the answers
        Assert.Equal((1L, expected), (report.Judges.Runs, report.Judges.CostUsd)); // their scoring, apart
        Assert.Equal(expected, Assert.Single(report.JudgesByDay).Summary.CostUsd);
    }

    [Fact]
    public async Task RunAsync_JudgeBudgetConfigured_JudgeCallsCountThereAndAreRefusedThere()
    {
        await StartAsync(judgeDelay: TimeSpan.Zero);
        await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "judges", Scope = BudgetScope.Judge, MaxTokens = 10 }, Ct);

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "Risks?" }, cancellationToken: Ct);
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        // The judge's worst case does not fit its budget: the metric is inconclusive, says which budget refused it, and the
        // answer stands; no evaluator failed.
        var relevance = Assert.Single(quality!.Metrics);
        Assert.Null(relevance.NormalizedScore);
        Assert.Contains("A budget refused the judge call", relevance.Reason, StringComparison.Ordinal);
        Assert.Contains("judge budget 'judges'", Assert.Single(relevance.Diagnostics), StringComparison.Ordinal);
        Assert.DoesNotContain("failed", quality.Error ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain(_served, s => s.Kind == "judge");
        var period = BudgetPeriods.Key(BudgetPeriod.Daily, DateTimeOffset.UtcNow, TimeZoneInfo.Utc);
        Assert.Equal(12 + 7, (await BudgetTestSupport.CounterAsync(Engine, "agent:judged", period)).SpentTokens);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunAsync_LaterTurnOfAScoredSession_ItsSessionBudgetCountsTheScoringUnlessAJudgeBudgetTakesIt(bool judgeBudget)
    {
        await StartAsync(judgeDelay: TimeSpan.Zero);
        if (judgeBudget)
        {
            await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "judges", Scope = BudgetScope.Judge, MaxTokens = 1_000_000 }, Ct);
        }

        var preset = Path.Combine(Engine.AgentsFolder, "judged.yaml");
        await File.WriteAllTextAsync(preset, TestEngine.Preset("judged", "evaluators: [relevance]\nbudget:\n  max_tokens_per_session: 1000000"), Ct);
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "Risks?" }, cancellationToken: Ct);
        await Engine.Runner.WaitForQualityAsync(first.RunId, Ct);
        await Engine.Get<BudgetEscrow>().FlushAsync(returnUnused: false, Ct);

        // Less than any turn's worst case is left: the next turn is refused, naming what the session spent.
        await File.WriteAllTextAsync(preset, TestEngine.Preset("judged", "evaluators: [relevance]\nbudget:\n  max_tokens_per_session: 50"), Ct);
        var next = await Engine.Runner.RunAsync(new RunRequest { Preset = "judged", Query = "And?", SessionId = first.SessionId }, cancellationToken: Ct);

        // The answer's 12 + 7 tokens, and its scoring's 12 + 7 when no judge budget takes them.
        Assert.Equal(RunStatus.BudgetExceeded, next.Status);
        Assert.Contains($"spent {(judgeBudget ? 19 : 38)}, reserved 0", next.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_AnswerCutOffAtTheCap_IsFlaggedStoredAndCannotPass()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "short.yaml"),
            TestEngine.Preset("short", "evaluators: [length]"), Ct);
        Server.Reply = _ => new FakeReply { Chunks = ["A fine start that was cut"], FinishReason = "length" };

        var response = await Engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "short", Query = "Explain." }, Ct);

        Assert.Equal((RunStatus.Completed, "length"), (response.Status, response.FinishReason));
        Assert.False(response.Quality!.Passed);
        var finished = Assert.Single(response.Quality.Metrics, m => m.Name == "finished");
        Assert.Equal(0, finished.NormalizedScore);
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal("length", await db.Runs.Where(r => r.Id == response.RunId).Select(r => r.FinishReason).SingleAsync(Ct));
    }

    [Fact]
    public async Task RunAsync_AnswerCutOffScoringAboveTheMark_SaysItWasCutOffNotBelowTheMark()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "lenient.yaml"),
            TestEngine.Preset("lenient", "evaluators: [length]\npass_threshold: 1"), Ct);
        Server.Reply = _ => new FakeReply { Chunks = ["A fine start that was cut"], FinishReason = "length" };

        var quality = (await Engine.Runner.RunAndScoreAsync(new RunRequest { Preset = "lenient", Query = "Explain." }, Ct)).Quality!;

        Assert.True(quality.Score >= quality.PassThreshold, $"score {quality.Score}");
        Assert.False(quality.Passed);
        Assert.Equal("not passed: the answer was cut off at the output cap", quality.Verdict);
        Assert.DoesNotContain("below", quality.Describe(), StringComparison.Ordinal);
    }
}
