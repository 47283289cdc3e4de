using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Budgets;
using Steward.Storage;
using Steward.Tests.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

/// <summary>
/// Run ownership and budget holds across processes: a live process is known by the lease it renews, a gone one by
/// its lease expiring or its process id no longer running, and every live process sweeps what gone ones left.
/// </summary>
public sealed class ProcessLeaseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sweep_KilledProcessesBudgetHolds_ComeBackToARunningProcessWithoutARestart()
    {
        // Holds are renewed, and the sweep runs, every second.
        var (engine, _) = await BudgetTestSupport.StartAsync(s =>
        {
            BudgetTestSupport.Policy(s, 0, "global", "Global", "None", tokens: 1_000_000);
            s["Steward:Budgets:ReservationTimeout"] = "00:00:03";
        });
        await using var _ = engine;
        var env = new Dictionary<string, string>
        {
            ["Steward__Budgets__Policies__0__Id"] = "global",
            ["Steward__Budgets__Policies__0__Scope"] = "Global",
            ["Steward__Budgets__Policies__0__MaxTokens"] = "1000000",
            ["Steward__Budgets__ReservationTimeout"] = "00:00:03",
        };

        // Another process takes holds for three calls whose model never answers, and is killed.
        using var child = CliProcess.StartDll(CliProcess.LedgerStressDll, env, engine.DatabasePath, engine.AgentsFolder, "3", "1", "0", "crash");
        child.StandardInput.Close();
        var line = await child.StandardOutput.ReadLineAsync(Ct);
        Assert.Equal("""{"reserved":3}""", line);
        var ledger = engine.Get<BudgetLedger>();
        var held = (await ledger.ReadAsync([("global", "all")], Ct))[0];
        Assert.True(held.ReservedTokens >= 3 * BudgetTestSupport.WorstCaseTokens(engine), $"the other process's holds: {held.ReservedTokens}");
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(Ct);

        // Nobody calls a sweep here, and nothing restarts: this running process's own loop finds the holds abandoned.
        var deadline = DateTimeOffset.UtcNow.AddSeconds(20);
        CounterState now;
        do
        {
            await Task.Delay(200, Ct);
            now = (await ledger.ReadAsync([("global", "all")], Ct))[0];
        }
        while (now.ReservedTokens > 0 && DateTimeOffset.UtcNow < deadline);

        Assert.Equal(0, now.ReservedTokens);
    }

    [Fact]
    public async Task Sweep_AnotherProcessStartingWhileARunStreams_NeverMarksTheLiveRunInterrupted()
    {
        await using var server = await FakeModelServer.StartAsync();
        server.Reply = _ => new FakeReply { Chunks = ["Still", " going"], HangAfterChunks = 1 };
        // The run must outlive three CLI starts on a loaded machine: no provider timeout may end it first.
        await using var engine = await TestEngine.StartAsync(server.OpenAIUrl, s => s["Steward:Providers:fake:TimeoutSeconds"] = "900");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var streaming = new TaskCompletionSource();
        var run = engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, p =>
        {
            if (p.TextDelta is not null)
            {
                streaming.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }, stop.Token);
        await streaming.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var env = new Dictionary<string, string> { ["STEWARD_DB"] = engine.DatabasePath, ["Steward__Agents__Directory"] = engine.AgentsFolder };
        for (var i = 0; i < 3; i++)
        {
            var (exit, _, stderr) = await CliProcess.RunAsync(env, "sessions", "list");
            Assert.True(exit == 0, stderr);
            Assert.Equal("Running", await StatusAsync(engine));
        }

        await stop.CancelAsync();
        Assert.Equal(RunStatus.Cancelled, (await run).Status);
        Assert.Equal("Cancelled", await StatusAsync(engine));
    }

    [Fact]
    public async Task Sweep_RunsOfAGoneProcess_OnlyThoseStillRunningAreMarkedInterrupted()
    {
        string folder;
        Guid running = Guid.NewGuid(), finished = Guid.NewGuid();
        var lastActive = new DateTime(2026, 11, 30, 9, 15, 0, DateTimeKind.Utc);
        await using (var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1"))
        {
            folder = engine.Folder;
            await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
            var session = new SessionRecord { Id = Guid.NewGuid(), Title = "t", PresetName = "assistant", CreatedAt = lastActive, UpdatedAt = lastActive };
            db.Sessions.Add(session);
            // A process on another machine that is gone: no lease. One run was left Running; the other finished
            // just before the sweep read the runs, and must keep what it got.
            foreach (var (id, status) in new[] { (running, "Running"), (finished, "Completed") })
            {
                db.Runs.Add(new RunRecord
                {
                    Id = id, SessionId = session.Id, PresetName = "assistant", Provider = "fake", Model = "m", Query = "q", Status = status,
                    StartedAt = DateTime.UtcNow, Owner = "elsewhere/4242/" + Guid.NewGuid().ToString("N"),
                });
            }

            await db.SaveChangesAsync(Ct);
        }

        await using var restarted = await TestEngine.StartAsync("http://127.0.0.1:9/v1", folder: folder);
        await using var check = await restarted.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var statuses = await check.Runs.ToDictionaryAsync(r => r.Id, r => r.Status, Ct);
        Assert.Equal(("Interrupted", "Completed"), (statuses[running], statuses[finished]));
        // Ending a dead process's run is not activity in its session: History keeps it where its user left it.
        Assert.Equal(lastActive, await check.Sessions.Select(s => s.UpdatedAt).SingleAsync(Ct));
    }

    private static async Task<string> StatusAsync(TestEngine engine)
    {
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        return await db.Runs.Select(r => r.Status).SingleAsync(Ct);
    }
}
