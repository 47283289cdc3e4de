using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Steward.Agents;
using Steward.Storage;
using Steward.Telemetry;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

public sealed class TraceStoreTests : EngineTest
{
    private static readonly ActivitySource Synthetic = new("Steward.Tests.TraceStore");
    private static readonly ActivityListener SyntheticListener = Listen();

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Telemetry:Store:QueueCapacity"] = "20000";
        settings["Steward:Telemetry:Store:MaxSpans"] = "50000";
    }

    private static ActivityListener Listen()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Steward.Tests.TraceStore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static Activity Span(string name, DateTimeOffset? start = null)
    {
        _ = SyntheticListener;
        var activity = Synthetic.StartActivity(name, ActivityKind.Internal, parentContext: default, startTime: start ?? default)!;
        activity.SetTag("test.index", name);
        activity.Stop();
        return activity;
    }

    private static async Task<int> CountAsync(TestEngine engine, IEnumerable<string> traceIds)
    {
        var ids = traceIds.ToHashSet();
        var factory = engine.Get<IDbContextFactory<TraceDbContext>>();
        await using var db = await factory.CreateDbContextAsync(TestContext.Current.CancellationToken);
        var stored = await db.TraceSpans.Where(s => s.Source == "Steward.Tests.TraceStore").Select(s => s.TraceId).ToListAsync(TestContext.Current.CancellationToken);
        return stored.Count(ids.Contains);
    }

    [Fact]
    public async Task RealRun_WholeTreeStored_AndReadableAfterRestart()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "scored.yaml"), TestEngine.Preset("scored", "evaluators: [structure]"), ct);
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "scored", Query = "Trace me" }, cancellationToken: ct);
        // Scored after delivery: its evaluate span joins the run's trace once it is done.
        Assert.NotNull(await Engine.Runner.WaitForQualityAsync(response.RunId, ct));
        var store = Engine.Get<TraceStore>();
        await store.FlushAsync(ct);

        var trace = await store.GetRunTraceAsync(response.RunId, ct);
        Assert.Equal(response.TraceId, trace.TraceId);
        var root = trace.Spans[0];
        Assert.Equal((0, "agent_run scored"), (root.Depth, root.Span.Name));
        Assert.Equal(response.RunId.ToString(), root.Span["steward.run.id"]);
        Assert.Equal(["Initializing", "CheckingBudget", "Running", "Completed"], root.Span.Events.Select(e => e.Name));
        var agent = Assert.Single(trace.Spans, s => s.Span.Name.StartsWith("invoke_agent", StringComparison.Ordinal));
        Assert.Equal(1, agent.Depth);
        var chat = Assert.Single(trace.Spans, s => s.Span.Name == "chat fake-model");
        Assert.True(chat.Depth >= 2);
        Assert.Equal(12L, chat.Span["gen_ai.usage.input_tokens"]);
        // Each model call's budget step sits under the agent that made the call.
        Assert.Contains(trace.Spans, s => s.Span.Name == "check_budget" && s.Depth >= 2);
        Assert.Contains(trace.Spans, s => s.Span.Name == "evaluate" && s.Depth == 1);
        Assert.Contains(trace.Spans, s => s.Span.Name == "store_run" && s.Depth == 1);
        // Tree order: every span comes after its parent.
        var seen = new HashSet<string>();
        foreach (var s in trace.Spans)
        {
            Assert.True(s.Span.ParentSpanId is null || seen.Contains(s.Span.ParentSpanId));
            seen.Add(s.Span.SpanId);
        }

        var folder = Engine.Folder;
        await Engine.DisposeAsync();
        await using var restarted = await TestEngine.StartAsync(Server.OpenAIUrl, folder: folder);
        var again = await restarted.Get<TraceStore>().GetRunTraceAsync(response.RunId, ct);
        Assert.Equal(trace.Spans.Select(s => s.Span.SpanId), again.Spans.Select(s => s.Span.SpanId));

        using var export = new MemoryStream();
        Assert.Equal(trace.Spans.Count, await restarted.Get<TraceStore>().ExportOtlpJsonAsync(export, response.RunId, ct));
        using var json = System.Text.Json.JsonDocument.Parse(export.ToArray());
        var exported = json.RootElement.GetProperty("resourceSpans")[0].GetProperty("scopeSpans").EnumerateArray()
            .SelectMany(s => s.GetProperty("spans").EnumerateArray()).ToList();
        Assert.Equal(trace.Spans.Count, exported.Count);
        Assert.All(exported, s => Assert.Equal(response.TraceId, s.GetProperty("traceId").GetString()));
    }

    [Fact]
    public async Task RealRun_NewTrace_IdBeginsWithTheTimeTheRunStarted()
    {
        // The store indexes spans by trace id: ids that grow with time keep each batch's index entries together.
        var ct = TestContext.Current.CancellationToken;
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "first" }, cancellationToken: ct);
        await Task.Delay(5, ct);
        var second = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "second" }, cancellationToken: ct);
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.InRange(long.Parse(first.TraceId![..12], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture), before, after);
        Assert.True(string.CompareOrdinal(first.TraceId, second.TraceId) < 0, $"{first.TraceId} should sort before {second.TraceId}");
    }

    [Fact]
    public async Task UnknownRun_TraceNotFound_SaysWhy()
    {
        var ex = await Assert.ThrowsAsync<TraceNotFoundException>(() => Engine.Get<TraceStore>().GetRunTraceAsync(Guid.NewGuid(), TestContext.Current.CancellationToken));
        Assert.Contains("sessions show", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Burst_10000Spans_QueueWithRoom_NoneLost()
    {
        var writer = Engine.Get<TraceStoreWriter>();
        var spans = Enumerable.Range(0, 10_000).Select(i => Span("burst " + i)).ToList();
        Assert.All(spans, s => Assert.True(writer.TryEnqueue(s)));
        await writer.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(10_000, await CountAsync(Engine, spans.Select(s => s.TraceId.ToHexString())));
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task Retention_DeletesSpansPastMaxAge_ThenKeepsNewestMaxSpans()
    {
        var ct = TestContext.Current.CancellationToken;
        await Engine.DisposeAsync();
        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl, s =>
        {
            s["Steward:Telemetry:Store:MaxAge"] = "1.00:00:00";
            s["Steward:Telemetry:Store:MaxSpans"] = "50";
            s["Steward:Telemetry:Store:RetentionInterval"] = "1.00:00:00";
        });
        var writer = engine.Get<TraceStoreWriter>();
        var old = Enumerable.Range(0, 30).Select(i => Span("old " + i, DateTimeOffset.UtcNow.AddDays(-3))).ToList();
        var fresh = Enumerable.Range(0, 80).Select(i => Span("fresh " + i)).ToList();
        foreach (var s in old.Concat(fresh))
        {
            Assert.True(writer.TryEnqueue(s));
        }

        await writer.FlushAsync(ct);
        await writer.ApplyRetentionAsync(ct);

        var factory = engine.Get<IDbContextFactory<TraceDbContext>>();
        await using var db = await factory.CreateDbContextAsync(ct);
        var kept = await db.TraceSpans.Where(s => s.Source == "Steward.Tests.TraceStore").OrderBy(s => s.Id).Select(s => s.Name).ToListAsync(ct);
        Assert.Equal(fresh.Skip(30).Select(s => s.DisplayName), kept);
    }

    [Fact]
    public async Task Retention_TraceStraddlingTheCountLimit_GoesWholeNeverInPart()
    {
        var ct = TestContext.Current.CancellationToken;
        await Engine.DisposeAsync();
        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl, s =>
        {
            s["Steward:Telemetry:Store:MaxSpans"] = "4";
            s["Steward:Telemetry:Store:RetentionInterval"] = "1.00:00:00";
        });
        var writer = engine.Get<TraceStoreWriter>();
        var (older, newer) = (Tree("older"), Tree("newer"));
        foreach (var span in older.Concat(newer))
        {
            Assert.True(writer.TryEnqueue(span));
        }

        await writer.FlushAsync(ct);
        await writer.ApplyRetentionAsync(ct);

        // Keeping the newest four would keep one span of the older trace, a child without its root.
        await using var db = await engine.Get<IDbContextFactory<TraceDbContext>>().CreateDbContextAsync(ct);
        var kept = await db.TraceSpans.Where(s => s.Source == "Steward.Tests.TraceStore").OrderBy(s => s.Id).Select(s => s.Name).ToListAsync(ct);
        Assert.Equal(newer.Select(s => s.DisplayName), kept);

        static List<Activity> Tree(string name)
        {
            _ = SyntheticListener;
            using var root = Synthetic.StartActivity(name + " root", ActivityKind.Internal, parentContext: default)!;
            var children = Enumerable.Range(0, 2).Select(i =>
            {
                var child = Synthetic.StartActivity($"{name} child {i}", ActivityKind.Internal, root.Context)!;
                child.Stop();
                return child;
            }).ToList();
            root.Stop();
            return [root, .. children];
        }
    }

    [Fact]
    public async Task Write_WhileTheMainDatabasesWriterIsHeld_StillGoesThrough()
    {
        // Spans live in their own file, so a busy main database (runs writing) never holds them up, nor they it.
        var ct = TestContext.Current.CancellationToken;
        var writer = Engine.Get<TraceStoreWriter>();
        var spans = Enumerable.Range(0, 50).Select(i => Span("beside " + i)).ToList();
        using (await Engine.Get<SqliteWriteLock>().AcquireAsync(ct))
        {
            Assert.All(spans, s => Assert.True(writer.TryEnqueue(s)));
            await writer.FlushAsync(ct).WaitAsync(TimeSpan.FromSeconds(20), ct);
        }

        Assert.Equal(50, await CountAsync(Engine, spans.Select(s => s.TraceId.ToHexString())));
        Assert.True(File.Exists(Path.Combine(Engine.Folder, "steward-traces.db")));
    }

    [Fact]
    public async Task Start_MainDatabaseStillHoldingSpansOfAnEarlierVersion_MovesThemIntoTheTraceStore()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var main = Path.Combine(folder, "steward.db");
        var options = new DbContextOptionsBuilder<StewardDbContext>().UseSqlite($"Data Source={main};Pooling=False").Options;
        await using (var old = new StewardDbContext(options))
        {
            // The schema as it was before the trace store had a file of its own, with one stored span.
            await old.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>().MigrateAsync("20261124022011_AnalyticsCostByDayIndex", ct);
            await old.Database.ExecuteSqlRawAsync(
                "INSERT INTO trace_spans (Id, TraceId, SpanId, ParentSpanId, Name, Source, Kind, StartTime, DurationTicks, StatusCode, StatusMessage, Attributes, Events) " +
                "VALUES (7, '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', NULL, 'agent_run old', 'Steward', 1, '2026-11-20 10:00:00', 1000, 1, NULL, '[]', '[]')", ct);
        }

        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl, folder: folder);

        await using var db = await engine.Get<IDbContextFactory<TraceDbContext>>().CreateDbContextAsync(ct);
        var moved = await db.TraceSpans.SingleAsync(s => s.Id == 7, ct);
        Assert.Equal(("agent_run old", "0af7651916cd43dd8448eb211c80319c"), (moved.Name, moved.TraceId));
        await using var mainDb = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
        Assert.Equal(0, await mainDb.Database.SqlQueryRaw<int>("SELECT COUNT(*) AS Value FROM sqlite_master WHERE name = 'trace_spans'").SingleAsync(ct));
    }

    [Fact]
    public async Task Burst_QueueFull_DropsCountedInMetricAndLog_RestWritten()
    {
        var ct = TestContext.Current.CancellationToken;
        await Engine.DisposeAsync();
        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl,
            s => s["Steward:Telemetry:Store:QueueCapacity"] = "100", services => services.AddLogging(l => l.AddFakeLogging()));
        var writer = engine.Get<TraceStoreWriter>();
        var spans = Enumerable.Range(0, 10_000).Select(i => Span("full " + i)).ToList();
        var accepted = spans.Count(writer.TryEnqueue);
        await writer.FlushAsync(ct);

        // The queue holds 100. A span listener hears the whole process, so spans of tests running beside this one may hold
        // some of those places (and be dropped too): what is asserted is this burst's share.
        Assert.InRange(accepted, 1, 100);
        Assert.Equal(accepted, await CountAsync(engine, spans.Select(s => s.TraceId.ToHexString())));
        Assert.InRange(writer.Dropped, 10_000 - accepted, 10_000 - accepted + 1_000);

        // The metric: read from this engine's own meter only.
        long reported = -1;
        var factory = engine.Get<IMeterFactory>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == "steward.trace_store.dropped_spans")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => reported = value);
            listener.Start();
            listener.RecordObservableInstruments();
        }

        Assert.InRange(reported, 10_000 - accepted, writer.Dropped);
        var logged = engine.Get<FakeLogCollector>().GetSnapshot().Where(r => r.Id.Id == 1501).ToList();
        Assert.NotEmpty(logged);
        Assert.Contains("QueueCapacity", logged[0].Message, StringComparison.Ordinal);
    }
}
