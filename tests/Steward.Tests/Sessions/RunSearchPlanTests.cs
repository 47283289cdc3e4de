using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Providers;
using Steward.Sessions;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

public sealed class RunSearchPlanTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StatusFilter_CountsAndPagesThroughTheStatusIndex_NotByReadingEveryRun()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var failed = RunSearch.Filter(db.Runs.AsNoTracking(), new RunQuery { Status = RunStatus.Failed });

        // Traces with a status chosen: the total it shows, then the newest page. Failed runs are few among many completed
        // ones; reading every run to find them is what a store of a million runs cannot afford on each page.
        var count = await QueryPlans.ExplainAsync(engine, failed.Select(r => r.Id).ToQueryString(), Ct);
        var page = await QueryPlans.ExplainAsync(engine, RunSearch.NewestFirst(failed).Take(50).ToQueryString(), Ct);

        foreach (var steps in new[] { count, page })
        {
            Assert.DoesNotContain(steps, s => s is "SCAN runs" or "SCAN r");
            Assert.Contains(steps, s => s.Contains("IX_runs_Status_StartedAt", StringComparison.Ordinal));
        }

        // Newest first is the index's own order within a status: no sort of the status's runs by start time.
        Assert.DoesNotContain(page, s => s == "USE TEMP B-TREE FOR ORDER BY");
    }
}
