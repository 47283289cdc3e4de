using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Steward.Calls;
using Steward.Sessions;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed class RunWriterSqliteTests : RunWriterTests
{
    protected override string Storage => "sqlite";
}

public sealed class RunWriterPostgresTests : RunWriterTests
{
    protected override string Storage => "postgres";
}

/// <summary>
/// The run writer stores the rows of a kind of every write in a batch with as few statements as it can (multi-row
/// inserts, no lookups for a session it creates): whatever the number of rows, every one must be stored, in order; a
/// later run in the same session continues its messages, even in the same batch; and a bad write still fails alone.
/// </summary>
public abstract class RunWriterTests : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-writer-");
    private ServiceProvider? _services;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The provider the writer stores into: <c>sqlite</c> or <c>postgres</c>.</summary>
    protected abstract string Storage { get; }

    public async ValueTask InitializeAsync()
    {
        var database = await TestPostgres.DatabaseForAsync(Storage);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Steward:Storage:Database"] = database ?? Path.Combine(_folder.FullName, "steward.db"),
            ["Steward:Agents:Directory"] = _folder.FullName,
        }).Build();
        _services = new ServiceCollection().AddLogging().AddStewardEngine(configuration).BuildServiceProvider();
        await _services.GetRequiredService<DatabaseInitializer>().InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(37, 17)]
    public async Task StoreAsync_NewSessionWithManyEventsAndCalls_EveryRowStoredInOrder(int eventCount, int callCount)
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "First question");
        var first = Run(session.Id, "First question");
        var now = DateTime.UtcNow;

        await writer.StoreAsync(first, session, Events(first.Id, eventCount), ("First question", "First answer"), Calls(first.Id, callCount), now);

        var detail = await sessions.GetAsync(session.Id, Ct);
        Assert.Equal([(1, "user", "First question"), (2, "assistant", "First answer")], detail.Messages.Select(m => (m.Sequence, m.Role, m.Content)));
        var run = Assert.Single(detail.Runs);
        Assert.Equal(Enumerable.Range(1, eventCount).Select(i => $"event {i}"), run.Events.Select(e => e.Message));
        var calls = (await _services!.GetRequiredService<ModelCallStore>().ForRunsAsync([first.Id], Ct))[first.Id].ToArray();
        Assert.Equal(Enumerable.Range(1, callCount), calls.Select(c => c.Sequence));
        Assert.Equal(Enumerable.Range(1, callCount).Select(i => (long)i), calls.Select(c => c.Usage.InputTokens));
        Assert.Equal(now, detail.Summary.UpdatedAt.UtcDateTime, TimeSpan.FromMilliseconds(1));

        // A second run in the same (now stored) session continues its messages and touches it.
        var second = Run(session.Id, "Second question");
        var later = now.AddSeconds(5);
        await writer.StoreAsync(second, newSession: null, Events(second.Id, 2), ("Second question", "Second answer"), Calls(second.Id, 1), later);

        detail = await sessions.GetAsync(session.Id, Ct);
        Assert.Equal([1, 2, 3, 4], detail.Messages.Select(m => m.Sequence));
        Assert.Equal("Second answer", detail.Messages[^1].Content);
        Assert.Equal(later, detail.Summary.UpdatedAt.UtcDateTime, TimeSpan.FromMilliseconds(1));
    }

    private static RunRecord Run(Guid sessionId, string query) => new()
    {
        Id = Guid.CreateVersion7(), SessionId = sessionId, PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini", Query = query,
        Status = "Completed", StartedAt = DateTime.UtcNow, EndedAt = DateTime.UtcNow, Purpose = "gateway",
    };

    private static RunEventRecord[] Events(Guid runId, int count) =>
        [.. Enumerable.Range(1, count).Select(i => new RunEventRecord { RunId = runId, Sequence = i, Stage = "Running", Message = $"event {i}", Timestamp = DateTime.UtcNow })];

    private static ModelCallRecord[] Calls(Guid runId, int count) =>
        [.. Enumerable.Range(1, count).Select(i => new ModelCallRecord
        {
            Id = Guid.CreateVersion7(), RunId = runId, Sequence = i, Purpose = "gateway", PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini",
            StartedAt = DateTime.UtcNow, DurationMs = 1, InputTokens = i, OutputTokens = 1, Status = "Completed",
        })];

    [Fact]
    public async Task StoreAsync_ARunsSoleCallThatAgreesWithIt_IsKeptOnItsRowAndReadBackWhole()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "Question");
        var run = Run(session.Id, "Question");
        run.InputTokens = 70;
        run.CachedInputTokens = 20;
        run.OutputTokens = 30;
        run.ReasoningTokens = 5;
        run.CostNanoUsd = 1234;
        run.FinishReason = "stop";
        run.TraceId = "0af7651916cd43dd8448eb211c80319c";
        var call = new ModelCallRecord
        {
            Id = Guid.CreateVersion7(), RunId = run.Id, Sequence = 1, Purpose = run.Purpose, PresetName = run.PresetName, Provider = run.Provider,
            Model = run.Model, ResponseModel = "gpt-4o-mini-2024-07-18", StartedAt = new DateTime(run.StartedAt.Ticks / 10 * 10, DateTimeKind.Utc).AddMilliseconds(3), DurationMs = 812.5,
            TimeToFirstTokenMs = 120.25, InputTokens = 70, CachedInputTokens = 20, OutputTokens = 30, ReasoningTokens = 5, CostNanoUsd = 1234,
            SelfHosted = true, MaxOutputTokens = 4096, FinishReason = "stop", Status = "Completed", Error = "none really", TraceId = run.TraceId,
            SpanId = "b7ad6b7169203331",
        };

        await writer.StoreAsync(run, session, Events(run.Id, 1), ("Question", "Answer"), [call], DateTime.UtcNow);

        await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(call.Id, await db.Runs.Where(r => r.Id == run.Id).Select(r => EF.Property<Guid?>(r, InlineCall.Id)).SingleAsync(Ct));
        Assert.Equal(0, await Rows(db).CountAsync(c => c.RunId == run.Id, Ct));
        var stored = await db.ModelCalls.AsNoTracking().SingleAsync(c => c.RunId == run.Id, Ct);
        // Every value of the call, those kept in the run's own columns too (to the microsecond, PostgreSQL's precision).
        Assert.Equivalent(call, stored, strict: true);
        var read = Assert.Single((await _services!.GetRequiredService<ModelCallStore>().ForRunsAsync([run.Id], Ct))[run.Id]);
        Assert.Equal((call.Id, 4096, 120.25, "b7ad6b7169203331"), (read.Id, read.MaxOutputTokens!.Value, read.TimeToFirstToken!.Value.TotalMilliseconds, read.SpanId));

        // Deleting the run deletes its call with it.
        await sessions.DeleteAsync(session.Id, Ct);
        Assert.Equal(0, await db.ModelCalls.CountAsync(c => c.RunId == run.Id, Ct));
    }

    [Theory]
    [InlineData("Completed")]
    [InlineData("Cancelled")]
    public async Task FinishAsync_ARunsFirstCall_KeepsOnTheRunsRowOnlyWhatTheRunDoesNotSay(string status)
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "Question");
        var run = Run(session.Id, "Question");
        run.Status = "Running";
        run.EndedAt = null;
        await writer.StartAsync(run, session, Ct);
        run.Status = "Completed";
        run.EndedAt = DateTime.UtcNow;
        run.InputTokens = 1;
        run.OutputTokens = 1;
        // A run's first call has the run's id (ModelCallScope.FirstCallId).
        var call = Calls(run.Id, 1)[0];
        call.Id = run.Id;
        call.Status = status;

        await writer.FinishAsync(run, Events(run.Id, 1), ("Question", "Answer"), [call], DateTime.UtcNow, Ct);

        await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var row = await db.Runs.Where(r => r.Id == run.Id)
            .Select(r => new { Id = EF.Property<Guid?>(r, InlineCall.Id), Status = EF.Property<string?>(r, InlineCall.Status) }).SingleAsync(Ct);
        Assert.Null(row.Id);
        Assert.Equal(status == "Completed" ? null : status, row.Status);
        Assert.Equal(0, await Rows(db).CountAsync(c => c.RunId == run.Id, Ct));
        var read = Assert.Single((await _services!.GetRequiredService<ModelCallStore>().ForRunsAsync([run.Id], Ct))[run.Id]);
        Assert.Equal((run.Id, Enum.Parse<ModelCallStatus>(status), 1), (read.Id, read.Status, read.Sequence));
    }

    [Fact]
    public async Task Migrations_DownBeforeInlineCallsKeepOnlyWhatDiffersAndUpAgain_ReadARunsFirstCallAlike()
    {
        var session = _services!.GetRequiredService<SessionStore>().NewSession("bench", "Question");
        var run = Run(session.Id, "Question");
        run.InputTokens = 1;
        run.OutputTokens = 1;
        var call = Calls(run.Id, 1)[0];
        call.Id = run.Id;
        await _services!.GetRequiredService<RunWriter>().StoreAsync(run, session, Events(run.Id, 1), ("Question", "Answer"), [call], DateTime.UtcNow);
        await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        var migrator = Microsoft.EntityFrameworkCore.Infrastructure.AccessorExtensions.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>(db);
        async Task<(Guid, string)> ReadAsync()
        {
            var read = await db.ModelCalls.AsNoTracking().Where(c => c.RunId == run.Id).Select(c => new { c.Id, c.Status }).SingleAsync(Ct);
            return (read.Id, read.Status);
        }

        await migrator.MigrateAsync(db.Database.GetMigrations().Last(m => m.EndsWith("_InlineModelCalls", StringComparison.Ordinal)), Ct);
        Assert.Equal((run.Id, "Completed"), await ReadAsync());
        await migrator.MigrateAsync(cancellationToken: Ct);
        Assert.Equal((run.Id, "Completed"), await ReadAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync(Ct));
    }

    [Fact]
    public async Task StoreAsync_CallsThatARunsRowCannotHold_AreRowsOfTheirOwn()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "Question");
        // Two calls (a tool loop's), and one call whose usage is not its run's: neither fits on the run's row.
        var twoCalls = Run(session.Id, "Question");
        twoCalls.InputTokens = 3;
        twoCalls.OutputTokens = 2;
        var disagrees = Run(session.Id, "Question");
        disagrees.InputTokens = 99;

        await writer.StoreAsync(twoCalls, session, Events(twoCalls.Id, 1), ("Question", "Answer"), Calls(twoCalls.Id, 2), DateTime.UtcNow);
        await writer.StoreAsync(disagrees, newSession: null, Events(disagrees.Id, 1), ("Question", "Answer"), Calls(disagrees.Id, 1), DateTime.UtcNow);

        await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(0, await db.Runs.CountAsync(r => (r.Id == twoCalls.Id || r.Id == disagrees.Id) && EF.Property<Guid?>(r, InlineCall.Id) != null, Ct));
        Assert.Equal([1, 2], await Rows(db).Where(c => c.RunId == twoCalls.Id).OrderBy(c => c.Sequence).Select(c => c.Sequence).ToListAsync(Ct));
        Assert.Equal(1, await Rows(db).CountAsync(c => c.RunId == disagrees.Id, Ct));
        var calls = await _services!.GetRequiredService<ModelCallStore>().ForRunsAsync([twoCalls.Id, disagrees.Id], Ct);
        Assert.Equal([1L, 2L], calls[twoCalls.Id].Select(c => c.Usage.InputTokens));
        Assert.Equal([1L], calls[disagrees.Id].Select(c => c.Usage.InputTokens));
    }

    private static IQueryable<ModelCallRecord> Rows(StewardDbContext db) =>
        db.ModelCalls.FromSqlRaw($"SELECT * FROM \"{InlineCall.RowsTable}\"").AsNoTracking();

    [Fact]
    public async Task PagesWritten_EachCommitsLogPagesCountedOnceOnSqliteNoneOnPostgres()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();

        async Task<long> StoreAsync(int events)
        {
            var before = writer.PagesWritten;
            var session = sessions.NewSession("bench", "Question");
            var run = Run(session.Id, "Question");
            await writer.StoreAsync(run, session, Events(run.Id, events), ("Question", "Answer"), Calls(run.Id, 1), DateTime.UtcNow);
            return writer.PagesWritten - before;
        }

        var first = await StoreAsync(1);
        var second = await StoreAsync(1);
        var large = await StoreAsync(2000);
        if (Storage == "postgres")
        {
            Assert.Equal(0, first + second + large);
            return;
        }

        Assert.InRange(first, 1, 200);
        // Read and reset at each commit: carried over, the second would count the first's pages too.
        Assert.InRange(second, 1, first);
        Assert.True(large > second + 10, $"a run with 2,000 events wrote {large} pages, one with one {second}");
    }

    [Fact]
    public async Task StoreAsync_ManyWritesAtOnce_EveryRunSessionAndMessageStored()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var runs = Enumerable.Range(0, 300).Select(i =>
        {
            var session = sessions.NewSession("bench", $"Question {i}");
            return (Session: session, Run: Run(session.Id, $"Question {i}"));
        }).ToArray();

        // Queued together, so the writer takes them in batches of many writes.
        await Task.WhenAll(runs.Select(r => writer.StoreAsync(r.Run, r.Session, Events(r.Run.Id, 3), (r.Run.Query, $"Answer to {r.Run.Query}"), Calls(r.Run.Id, 1),
            DateTime.UtcNow)));

        foreach (var (session, run) in runs.Where((_, i) => i % 37 == 0))
        {
            var detail = await sessions.GetAsync(session.Id, Ct);
            Assert.Equal([(1, run.Query), (2, $"Answer to {run.Query}")], detail.Messages.Select(m => (m.Sequence, m.Content)));
            Assert.Equal(3, Assert.Single(detail.Runs).Events.Count);
        }

        Assert.Equal(300, (await sessions.ListAsync(null, 0, 1000, Ct)).Count);
        Assert.Equal(300, writer.Writes);
        // Batches of up to 128 writes, gathered while the first waits: never a commit per write.
        Assert.InRange(writer.Batches, 3, 30);
    }

    [Fact]
    public async Task StoreAsync_TwoRunsOfOneSessionInOneBatch_MessagesFollowEachOther()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "First question");
        var first = Run(session.Id, "First question");
        await writer.StoreAsync(first, session, Events(first.Id, 1), ("First question", "First answer"), Calls(first.Id, 1), DateTime.UtcNow);

        var second = Run(session.Id, "Second question");
        var third = Run(session.Id, "Third question");
        await Task.WhenAll(
            writer.StoreAsync(second, newSession: null, Events(second.Id, 1), ("Second question", "Second answer"), Calls(second.Id, 1), DateTime.UtcNow),
            writer.StoreAsync(third, newSession: null, Events(third.Id, 1), ("Third question", "Third answer"), Calls(third.Id, 1), DateTime.UtcNow));

        var detail = await sessions.GetAsync(session.Id, Ct);
        Assert.Equal(
            [(1, "First question"), (2, "First answer"), (3, "Second question"), (4, "Second answer"), (5, "Third question"), (6, "Third answer")],
            detail.Messages.Select(m => (m.Sequence, m.Content)));
    }

    [Fact]
    public async Task StoreAsync_ABadWriteOnItsOwn_FailsWithNothingKeptAndTheWriterGoesOn()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var stored = sessions.NewSession("bench", "Stored");
        var storedRun = Run(stored.Id, "Stored");
        await writer.StoreAsync(storedRun, stored, Events(storedRun.Id, 1), null, [], DateTime.UtcNow);

        // Alone in its batch (awaited before the next is queued): its run breaks the primary key after its session row.
        var lonely = sessions.NewSession("bench", "Lonely");
        var duplicate = Run(lonely.Id, "Duplicate");
        duplicate.Id = storedRun.Id;
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(
            () => writer.StoreAsync(duplicate, lonely, Events(duplicate.Id, 2), ("Duplicate", "Answer"), [], DateTime.UtcNow));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => sessions.GetAsync(lonely.Id, Ct));

        var next = sessions.NewSession("bench", "Next");
        var nextRun = Run(next.Id, "Next");
        await writer.StoreAsync(nextRun, next, Events(nextRun.Id, 2), ("Next", "Answer"), Calls(nextRun.Id, 1), DateTime.UtcNow);
        Assert.Equal(2, (await sessions.GetAsync(next.Id, Ct)).Messages.Count);
        Assert.Single(Assert.Single((await sessions.GetAsync(stored.Id, Ct)).Runs).Events);
    }

    [Fact]
    public async Task StoreAsync_OneBadWriteAmongMany_FailsAloneAndTheOthersAreStored()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var stored = sessions.NewSession("bench", "Stored");
        var storedRun = Run(stored.Id, "Stored");
        await writer.StoreAsync(storedRun, stored, Events(storedRun.Id, 1), null, [], DateTime.UtcNow);

        var good = Enumerable.Range(0, 100).Select(i =>
        {
            var session = sessions.NewSession("bench", $"Good {i}");
            return (Session: session, Run: Run(session.Id, $"Good {i}"));
        }).ToArray();
        var writes = good.Select(g => writer.StoreAsync(g.Run, g.Session, Events(g.Run.Id, 2), (g.Run.Query, "Answer"), Calls(g.Run.Id, 1), DateTime.UtcNow)).ToList();
        // The same run id again: its insert breaks the primary key, in the middle of the queued writes.
        var duplicate = Run(stored.Id, "Duplicate");
        duplicate.Id = storedRun.Id;
        writes.Insert(50, writer.StoreAsync(duplicate, null, Events(duplicate.Id, 2), ("Duplicate", "Answer"), [], DateTime.UtcNow));

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => writes[50]);
        await Task.WhenAll(writes.Where((_, i) => i != 50));
        foreach (var (session, _) in good)
        {
            var detail = await sessions.GetAsync(session.Id, Ct);
            Assert.Equal(2, detail.Messages.Count);
            Assert.Equal(2, Assert.Single(detail.Runs).Events.Count);
        }

        // Nothing of the bad write is kept: the stored run keeps its one event and its session gained no messages.
        var kept = await sessions.GetAsync(stored.Id, Ct);
        Assert.Empty(kept.Messages);
        Assert.Single(Assert.Single(kept.Runs).Events);
    }

    [Fact]
    public async Task FinishAsync_WhatTheRunIsFromItsStart_IsLeftAsStored()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var sessions = _services!.GetRequiredService<SessionStore>();
        var session = sessions.NewSession("bench", "Question");
        var run = new RunRecord
        {
            Id = Guid.CreateVersion7(), SessionId = session.Id, PresetName = "bench", PresetVersion = "v1", Provider = "openai", Model = "gpt-4o-mini",
            Query = "Question", Status = "Running", StartedAt = DateTime.UtcNow, Purpose = "agent", UserId = "ann", Owner = "test",
        };
        await writer.StartAsync(run, session, Ct);

        // Someone re-attributes the run while it is in flight (an administrator's correction): its end must not undo that.
        await using (var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct))
        {
            await db.Runs.Where(r => r.Id == run.Id).ExecuteUpdateAsync(
                s => s.SetProperty(r => r.UserId, "bob").SetProperty(r => r.PresetName, "renamed").SetProperty(r => r.Query, "Question, corrected"), Ct);
        }

        run.Status = "Completed";
        run.EndedAt = DateTime.UtcNow;
        run.InputTokens = 40;
        run.OutputTokens = 12;
        run.CostNanoUsd = 12_450;
        await writer.FinishAsync(run, Events(run.Id, 1), ("Question", "Answer"), Calls(run.Id, 1), DateTime.UtcNow, Ct);

        await using (var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct))
        {
            var stored = await db.Runs.SingleAsync(r => r.Id == run.Id, Ct);
            Assert.Equal(("bob", "renamed", "Question, corrected"), (stored.UserId, stored.PresetName, stored.Query));
            Assert.Equal(("Completed", 40L, 12L, 12_450L), (stored.Status, stored.InputTokens, stored.OutputTokens, stored.CostNanoUsd));
        }
    }

    [Fact]
    public async Task FinishAsync_ARunsEnd_IsItsSessionsLatestActivity()
    {
        var writer = _services!.GetRequiredService<RunWriter>();
        var session = _services!.GetRequiredService<SessionStore>().NewSession("bench", "Question");
        var opened = DateTime.UtcNow.AddHours(-1);
        opened = opened.AddTicks(-(opened.Ticks % TimeSpan.TicksPerSecond));
        session.CreatedAt = session.UpdatedAt = opened;
        var first = true;

        async Task<(DateTime Activity, long Cost)> FinishAsync(DateTime ended, long? cost)
        {
            var run = new RunRecord
            {
                Id = Guid.CreateVersion7(), SessionId = session.Id, PresetName = "bench", Provider = "openai", Model = "gpt-4o-mini",
                Query = "Question", Status = "Running", StartedAt = ended.AddSeconds(-1), Purpose = "agent", Owner = "test",
            };
            await writer.StartAsync(run, first ? session : null, Ct);
            first = false;
            run.Status = "Completed";
            run.EndedAt = ended;
            run.DurationMs = 1000;
            (run.InputTokens, run.OutputTokens, run.CostNanoUsd) = cost is null ? (0, 0, null) : (40, 12, cost);
            // Stored some time after it ended (a slow commit): the session's activity is still when the run ended.
            await writer.FinishAsync(run, Events(run.Id, 1), ("Question", "Answer"), cost is null ? [] : Calls(run.Id, 1), DateTime.UtcNow, Ct);
            await using var db = await _services!.GetRequiredService<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
            var stored = await db.Sessions.AsNoTracking().SingleAsync(s => s.Id == session.Id, Ct);
            return (stored.UpdatedAt, stored.CostNanoUsd);
        }

        // A run with usage (its end also adds to the session's totals), one without, and one that ends after it started
        // later but is stored last: the activity only moves forward.
        Assert.Equal((opened.AddSeconds(5), 12_450L), await FinishAsync(opened.AddSeconds(5), 12_450));
        Assert.Equal((opened.AddSeconds(9), 12_450L), await FinishAsync(opened.AddSeconds(9), null));
        Assert.Equal((opened.AddSeconds(9), 20_000L), await FinishAsync(opened.AddSeconds(7), 7_550));
    }

    [Fact]
    public void StartColumns_AreInitOnlyOnTheRunRecord()
    {
        // A start column the end leaves out must be one no code can change after the run is made.
        foreach (var column in RunWriter.StartColumns)
        {
            var setter = typeof(RunRecord).GetProperty(column)!.SetMethod!;
            Assert.Contains(setter.ReturnParameter.GetRequiredCustomModifiers(), m => m == typeof(System.Runtime.CompilerServices.IsExternalInit));
        }
    }
}
