using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed class ProcessLeaseSweepPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sweep_FindsGoneProcessesPendingEvaluationsThroughAnIndex_NotByReadingEveryRun()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));

        // Every process sweeps at its start and then each third of the reservation timeout, holding the write lock: this is
        // the filter of the statement that records the pending evaluations of gone processes as skipped.
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var steps = await QueryPlans.ExplainAsync(engine, ProcessLease.PendingEvaluationsOfGone(db, engine.Get<ProcessLease>().Id).ToQueryString(), Ct);

        // A plain scan of runs (EF calls it r) reads every run ever stored, however few are waiting for a score.
        Assert.DoesNotContain(steps, s => s is "SCAN runs" or "SCAN r");
        Assert.Contains(steps, s => s.Contains("IX_runs_Owner_PendingEvaluation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sweep_FindsRunningRunsOfGoneProcessesThroughTheStatusIndex_NotByReadingEveryRun()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));

        // The filter of the statement that marks the running runs of gone processes Interrupted, under the write lock.
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var steps = await QueryPlans.ExplainAsync(engine, ProcessLease.RunningOfGone(db, engine.Get<ProcessLease>().Id).ToQueryString(), Ct);

        Assert.DoesNotContain(steps, s => s is "SCAN runs" or "SCAN r");
        Assert.Contains(steps, s => s.Contains("IX_runs_Status_StartedAt", StringComparison.Ordinal));
    }
}
