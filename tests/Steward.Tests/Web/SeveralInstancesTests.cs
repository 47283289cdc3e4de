using System.Diagnostics;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Budgets;
using Steward.Storage;
using Steward.Tests.TestSupport;
using Steward.Web.Hosting;

namespace Steward.Tests.Web;

/// <summary>Two Steward instances on one PostgreSQL database, as behind a load balancer.</summary>
public sealed class SeveralInstancesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DataProtection_TwoInstancesOnOneDatabase_EachUnprotectsWhatTheOtherProtected()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        await using var first = await StartAsync(database);
        await using var second = await StartAsync(database);

        // What an antiforgery token or a circuit id is made of: the key ring, in the shared database.
        var token = first.GetRequiredService<IDataProtectionProvider>().CreateProtector("Steward.Test").Protect("circuit 42");
        var read = second.GetRequiredService<IDataProtectionProvider>().CreateProtector("Steward.Test").Unprotect(token);

        Assert.Equal("circuit 42", read);
        await using var db = await first.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(1, await db.DataProtectionKeys.CountAsync(Ct));
    }

    [Fact]
    public async Task Sweep_InstanceThatDied_ItsRunningRunIsMarkedInterruptedByALiveOne()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        await using var live = await StartAsync(database);
        var now = DateTime.UtcNow;
        var runId = Guid.NewGuid();
        await using (var db = await live.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct))
        {
            // An instance on another machine took a lease, started a run and died: its lease is past its expiry.
            db.ProcessLeases.Add(new ProcessLeaseRecord { Id = "other-host/4242/dead", Machine = "other-host", ProcessId = 4242, StartedAt = now.AddMinutes(-10), RenewedAt = now.AddMinutes(-5), ExpiresAt = now.AddMinutes(-4) });
            var session = new SessionRecord { Id = Guid.NewGuid(), Title = "t", PresetName = "assistant", CreatedAt = now, UpdatedAt = now };
            session.Runs.Add(new RunRecord { Id = runId, SessionId = session.Id, PresetName = "assistant", Provider = "p", Model = "m", Query = "q", Status = "Running", StartedAt = now.AddMinutes(-6), Owner = "other-host/4242/dead" });
            db.Sessions.Add(session);
            await db.SaveChangesAsync(Ct);
        }

        // No restart of the dead instance: the live one's next sweep finds the run.
        var result = await live.GetRequiredService<ProcessLease>().RenewAndSweepAsync(Ct);

        Assert.Equal(1, result.InterruptedRuns);
        await using var check = await live.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var run = await check.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, Ct);
        Assert.Equal((nameof(RunStatus.Interrupted), "interrupted"), (run.Status, run.ErrorKind));
    }

    [Fact]
    public async Task Presets_EditedOnOneInstance_TheOtherRunsTheNewVersionAtOnce()
    {
        await using var server = await FakeModelServer.StartAsync();
        var (first, second) = await StartTwoEnginesAsync(server);
        await using var disposeFirst = first;
        await using var disposeSecond = second;
        Assert.Equal(RunStatus.Completed, (await second.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct)).Status);

        var editor = first.Get<PresetEditor>();
        var opened = editor.Read("assistant");
        Assert.Empty(editor.Save("assistant", opened.Replace("Answer briefly.", "Answer in French.", StringComparison.Ordinal), create: false, opened));
        var after = await second.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, after.Status);
        Assert.Contains("Answer in French.", server.Requests.Last().Body, StringComparison.Ordinal);
        Assert.Equal(second.Get<PresetCatalog>().Get("assistant").Version, first.Get<PresetCatalog>().Get("assistant").Version);
    }

    [Fact]
    public async Task Budget_SetOnOneInstance_TheOtherRefusesWhatItNoLongerAllows()
    {
        await using var server = await FakeModelServer.StartAsync();
        var (first, second) = await StartTwoEnginesAsync(server);
        await using var disposeFirst = first;
        await using var disposeSecond = second;
        // The second instance has read the stored budgets (none) before the first sets one.
        Assert.Equal(RunStatus.Completed, (await second.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct)).Status);

        await first.Get<BudgetAdministration>().SetAsync(
            new BudgetPolicy { Id = "team-daily", Scope = BudgetScope.Global, Period = BudgetPeriod.Daily, MaxTokens = 10 }, Ct);

        // The README promises two seconds; the loop allows for a loaded machine and fails if the budget never arrives.
        var calls = server.Requests.Count;
        var completed = 0;
        var waited = Stopwatch.StartNew();
        AgentResponse response;
        while (true)
        {
            await Task.Delay(250, Ct);
            response = await second.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);
            if (response.Status != RunStatus.Completed || waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                break;
            }

            completed++;
        }

        Assert.Equal(RunStatus.BudgetExceeded, response.Status);
        Assert.Contains("'team-daily'", response.Error!.Message, StringComparison.Ordinal);
        // Refused before the model was asked: only the runs that completed reached the model.
        Assert.Equal(calls + completed, server.Requests.Count);
    }

    /// <summary>Two engines on one new PostgreSQL database and one presets folder, as two instances behind a load balancer.</summary>
    private static async Task<(TestEngine First, TestEngine Second)> StartTwoEnginesAsync(FakeModelServer server)
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var shared = Directory.CreateTempSubdirectory("steward-instances-").FullName;
        var first = await TestEngine.StartAsync(server.OpenAIUrl, s => s["Steward:Storage:Database"] = database, folder: shared);
        return (first, await TestEngine.StartAsync(server.OpenAIUrl, s => s["Steward:Storage:Database"] = database, folder: shared));
    }

    private static async Task<ServiceProvider> StartAsync(string database)
    {
        var folder = Directory.CreateTempSubdirectory("steward-instance-");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = database,
            ["Steward:Agents:Directory"] = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName,
        }).Build();
        var services = new ServiceCollection().AddLogging().AddStewardEngine(configuration);
        services.AddStewardDataProtection();
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<DatabaseInitializer>().InitializeAsync(Ct);
        return provider;
    }
}
