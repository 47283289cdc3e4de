using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Steward.Analytics;
using Steward.Costs;
using Steward.Evaluation;
using Steward.Sessions;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Analytics;

public sealed class RollupValueSqliteTests : RollupValueTests
{
    protected override string Storage => "sqlite";
}

public sealed class RollupValuePostgresTests : RollupValueTests
{
    protected override string Storage => "postgres";
}

/// <summary>
/// The reports read rollups and session summaries the database's triggers keep; whatever the write path (the run
/// writer's start-then-finish, EF inserts as an import makes them, updates, deletes and their cascades), each report
/// equals the same figure computed here directly from the raw rows, in time zones with daylight-saving days and with
/// half-hour offsets, for filters whose bounds fall inside an hour.
/// </summary>
public abstract class RollupValueTests : IAsyncLifetime
{
    private static readonly string[] Agents = ["analyst", "advisor", "writer"];
    private static readonly (string Provider, string Model)[] Models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("lab", "mystery")];
    private static readonly string[] Statuses = ["Completed", "Completed", "Completed", "Failed", "Cancelled", "BudgetExceeded", "Running"];
    private static readonly string?[] Users = [null, "ana", "bo", "chen"];
    private static readonly string[] Tags = ["billing", "eval", "prod"];

    private TestEngine _engine = null!;

    protected abstract string Storage { get; }

    public async ValueTask InitializeAsync()
    {
        var database = await TestPostgres.DatabaseForAsync(Storage);
        _engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            // The percentiles these tests check are the rollups' histograms'; a window this small would be read exactly.
            s["Steward:Reports:ExactPercentilesUpTo"] = "0";
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }
        });
        await SeedAsync(new Random(15), TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Runs around the 2026 daylight-saving changes (US 8 March and 1 November, EU 29 March and 25 October), written
    /// three ways, then scored, rated, re-scored, moved to another model, and partly deleted.
    /// </summary>
    private async Task SeedAsync(Random random, CancellationToken ct)
    {
        var writer = _engine.Get<RunWriter>();
        var contexts = _engine.Get<IDbContextFactory<StewardDbContext>>();
        DateTime[] around = [new(2026, 3, 8, 0, 0, 0, DateTimeKind.Utc), new(2026, 3, 29, 0, 0, 0, DateTimeKind.Utc), new(2026, 10, 25, 0, 0, 0, DateTimeKind.Utc),
            new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc)];
        var sessions = new List<SessionRecord>();
        for (var s = 0; s < 40; s++)
        {
            var agent = Agents[random.Next(Agents.Length)];
            var start = around[random.Next(around.Length)].AddMinutes(random.Next(-36 * 60, 36 * 60));
            var session = new SessionRecord { Id = Guid.NewGuid(), Title = $"session {s} about {(s % 2 == 0 ? "Inflation" : "kubernetes")}", PresetName = agent, CreatedAt = start, UpdatedAt = start };
            sessions.Add(session);
            var runs = Enumerable.Range(0, random.Next(1, 9)).Select(i => NewRun(random, session, start.AddMinutes(i * random.Next(1, 200)))).ToList();
            switch (s % 3)
            {
                case 0:
                    // The run writer's path: each run stored when it starts, then its outcome written over it.
                    for (var i = 0; i < runs.Count; i++)
                    {
                        var final = runs[i];
                        var started = Clone(final);
                        (started.Status, started.CostNanoUsd, started.DurationMs, started.InputTokens, started.OutputTokens) = ("Running", null, null, 0, 0);
                        // As the runner stores a run (no first token yet), and for some as one that had a first token when
                        // stored: the histogram trigger takes a run's old share away only when it had one.
                        if (i % 2 == 0)
                        {
                            started.TimeToFirstTokenMs = null;
                        }

                        await writer.StartAsync(started, i == 0 ? session : null, ct);
                        await writer.FinishAsync(final, [], (final.Query, "answer"), [], final.StartedAt.AddSeconds(5), ct);
                    }

                    break;
                case 1:
                    // The gateway's write-behind path: a whole run at once.
                    for (var i = 0; i < runs.Count; i++)
                    {
                        await writer.StoreAsync(runs[i], i == 0 ? session : null, [], null, [], runs[i].StartedAt.AddSeconds(5));
                    }

                    break;
                default:
                    // EF inserts, as an import stores a session with its runs.
                    await using (var db = await contexts.CreateDbContextAsync(ct))
                    {
                        session.Runs.AddRange(runs);
                        db.Sessions.Add(session);
                        await db.SaveChangesAsync(ct);
                        session.Runs.Clear();
                    }

                    break;
            }
        }

        await using (var db = await contexts.CreateDbContextAsync(ct))
        {
            foreach (var run in await db.Runs.ToListAsync(ct))
            {
                if (random.Next(3) > 0)
                {
                    var metrics = Enumerable.Range(1, random.Next(0, 3)).Select(m => new EvaluationMetricRecord
                    {
                        RunId = run.Id, Sequence = m, Name = m == 1 ? "relevance" : "grounding", Evaluator = "judge",
                        NormalizedScore = random.Next(4) == 0 ? null : Math.Round(random.NextDouble(), 3), Weight = 1,
                    }).ToList();
                    db.Evaluations.Add(new EvaluationRecord
                    {
                        RunId = run.Id, PresetName = run.PresetName, EvaluatedAt = run.StartedAt.AddMinutes(random.Next(0, 300)), Score = random.Next(0, 101) / 2.0,
                        Passed = random.Next(2) == 0, PassThreshold = 50, Error = random.Next(6) == 0 ? "judge failed" : null,
                        JudgeCostNanoUsd = random.Next(3) == 0 ? null : random.Next(1, 5_000_000), Metrics = metrics,
                    });
                }

                if (random.Next(4) == 0)
                {
                    db.Feedback.Add(new FeedbackRecord { RunId = run.Id, Rating = random.Next(2) == 0 ? 1 : -1, Source = "web", GivenAt = run.StartedAt });
                }
            }

            await db.SaveChangesAsync(ct);
        }

        await using (var db = await contexts.CreateDbContextAsync(ct))
        {
            // Updates: a re-score, a changed rating, a run moved to another model after it was scored.
            var evaluation = await db.Evaluations.OrderBy(e => e.RunId).FirstAsync(ct);
            evaluation.Score = 99.5;
            evaluation.EvaluatedAt = evaluation.EvaluatedAt.AddHours(7);
            var feedback = await db.Feedback.OrderBy(f => f.RunId).FirstAsync(ct);
            feedback.Rating = -feedback.Rating;
            var scored = await db.Runs.Where(r => db.Evaluations.Any(e => e.RunId == r.Id)).OrderByDescending(r => r.Id).FirstAsync(ct);
            scored.Model = "moved-model";
            await db.SaveChangesAsync(ct);

            // Deletes: whole sessions (cascading to runs, scores, metrics, ratings), single runs, a score, a metric.
            foreach (var session in sessions.Where((_, i) => i % 7 == 3))
            {
                await db.Sessions.Where(x => x.Id == session.Id).ExecuteDeleteAsync(ct);
            }

            var runIds = await db.Runs.OrderBy(r => r.StartedAt).Select(r => r.Id).ToListAsync(ct);
            await db.Runs.Where(r => r.Id == runIds[3] || r.Id == runIds[runIds.Count / 2]).ExecuteDeleteAsync(ct);
            // Tags added to and taken from stored runs, a user id changed, a rating withdrawn, and the runs a gone process left
            // Running marked Interrupted (as the process lease does, in one statement).
            var tagged = await db.RunTags.OrderBy(t => t.RunId).FirstAsync(ct);
            await db.RunTags.Where(t => t.RunId == tagged.RunId && t.Tag == tagged.Tag).ExecuteDeleteAsync(ct);
            var untagged = await db.Runs.Where(r => !r.Tags.Any()).OrderBy(r => r.StartedAt).Take(3).Select(r => r.Id).ToListAsync(ct);
            db.RunTags.AddRange(untagged.Select(r => new RunTagRecord { RunId = r, Tag = "late" }));
            await db.SaveChangesAsync(ct);
            await db.Runs.Where(r => r.UserId == "bo").OrderBy(r => r.Id).Take(2).ExecuteUpdateAsync(u => u.SetProperty(r => r.UserId, "dana"), ct);
            var rated = await db.Feedback.OrderByDescending(f => f.RunId).Select(f => f.RunId).FirstAsync(ct);
            await db.Feedback.Where(f => f.RunId == rated).ExecuteDeleteAsync(ct);
            Assert.True(await db.Runs.CountAsync(r => r.Status == "Running", ct) > 0);
            await db.Runs.Where(r => r.Status == "Running").ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, "Interrupted"), ct);
            // Finished runs corrected where they stand: one re-measured and re-priced, one found to have failed.
            var completed = await db.Runs.Where(r => r.Status == "Completed" && r.DurationMs != null && r.CostNanoUsd != null).OrderBy(r => r.Id)
                .Select(r => r.Id).Take(2).ToListAsync(ct);
            await db.Runs.Where(r => r.Id == completed[0]).ExecuteUpdateAsync(
                u => u.SetProperty(r => r.DurationMs, 123_456.0).SetProperty(r => r.CostNanoUsd, (long?)null).SetProperty(r => r.InputTokens, 7), ct);
            await db.Runs.Where(r => r.Id == completed[1]).ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, "Failed").SetProperty(r => r.OutputTokens, 0), ct);

            var unscore = await db.Evaluations.OrderByDescending(e => e.RunId).Select(e => e.RunId).FirstAsync(ct);
            await db.Evaluations.Where(e => e.RunId == unscore).ExecuteDeleteAsync(ct);
            var metric = await db.EvaluationMetrics.OrderBy(m => m.Id).Select(m => m.Id).FirstAsync(ct);
            await db.EvaluationMetrics.Where(m => m.Id == metric).ExecuteDeleteAsync(ct);
        }
    }

    private static RunRecord NewRun(Random random, SessionRecord session, DateTime startedAt)
    {
        var (provider, model) = Models[random.Next(Models.Length)];
        var input = random.Next(0, 5_000);
        var output = random.Next(0, 2_000);
        var id = Guid.NewGuid();
        return new RunRecord
        {
            UserId = Users[random.Next(Users.Length)],
            Tags = [.. Tags.Where(_ => random.Next(3) == 0).Select(t => new RunTagRecord { RunId = id, Tag = t })],
            TimeToFirstTokenMs = random.Next(4) == 0 ? null : Math.Round(random.NextDouble() * 3_000, 3),
            Id = id, SessionId = session.Id, PresetName = session.PresetName, PresetVersion = "1", Provider = provider, Model = model,
            Query = random.Next(3) == 0 ? "What drives INFLATION now?" : $"question {random.Next(1000)}", Status = Statuses[random.Next(Statuses.Length)],
            StartedAt = startedAt, EndedAt = startedAt.AddSeconds(3), DurationMs = random.Next(5) == 0 ? null : Math.Round(random.NextDouble() * 20_000, 3),
            InputTokens = input, CachedInputTokens = input / 3, OutputTokens = output, ReasoningTokens = output / 4,
            CostNanoUsd = random.Next(4) == 0 ? null : random.Next(0, 50_000_000), Purpose = random.Next(5) == 0 ? "eval" : "agent", Owner = "test",
        };
    }

    private static RunRecord Clone(RunRecord r) => new()
    {
        Id = r.Id, SessionId = r.SessionId, PresetName = r.PresetName, PresetVersion = r.PresetVersion, Provider = r.Provider, Model = r.Model,
        Query = r.Query, Status = r.Status, StartedAt = r.StartedAt, EndedAt = r.EndedAt, DurationMs = r.DurationMs, InputTokens = r.InputTokens,
        CachedInputTokens = r.CachedInputTokens, OutputTokens = r.OutputTokens, ReasoningTokens = r.ReasoningTokens, CostNanoUsd = r.CostNanoUsd,
        Purpose = r.Purpose, Owner = r.Owner, UserId = r.UserId, TimeToFirstTokenMs = r.TimeToFirstTokenMs,
        Tags = [.. r.Tags.Select(t => new RunTagRecord { RunId = t.RunId, Tag = t.Tag })],
    };

    public static TheoryData<string> Zones => new("UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe");

    private async Task<(List<RunRecord> Runs, List<EvaluationRecord> Evaluations)> LoadAsync()
    {
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var runs = await db.Runs.AsNoTracking().Include(r => r.Tags).Include(r => r.Feedback).ToListAsync(TestContext.Current.CancellationToken);
        var evaluations = await db.Evaluations.AsNoTracking().Include(e => e.Metrics).ToListAsync(TestContext.Current.CancellationToken);
        return (runs, evaluations);
    }

    private static IEnumerable<CostFilter> Filters()
    {
        yield return new CostFilter();
        yield return new CostFilter { Agent = "analyst" };
        yield return new CostFilter { Model = "gpt-4o-mini", Provider = "openai" };
        // Bounds inside an hour (and a day): the ragged ends come from the raw rows.
        yield return new CostFilter { From = new DateTimeOffset(2026, 3, 7, 10, 20, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 3, 30, 15, 45, 0, TimeSpan.Zero) };
        yield return new CostFilter { From = new DateTimeOffset(2026, 11, 1, 5, 10, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 11, 1, 5, 50, 0, TimeSpan.Zero) };
        yield return new CostFilter { Agent = "writer", From = new DateTimeOffset(2026, 10, 24, 0, 0, 0, TimeSpan.Zero) };
        yield return new CostFilter { UserId = "ana" };
        yield return new CostFilter { UserId = "dana" };
        yield return new CostFilter { Tag = "billing", Agent = "analyst" };
        yield return new CostFilter { Tag = "late" };
        yield return new CostFilter { Tag = "prod", From = new DateTimeOffset(2026, 3, 7, 10, 20, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 10, 30, 15, 45, 0, TimeSpan.Zero) };
        yield return new CostFilter { UserId = "chen", From = new DateTimeOffset(2026, 3, 8, 5, 0, 0, TimeSpan.Zero) };
    }

    [Theory]
    [MemberData(nameof(Zones))]
    public async Task GetReportAsync_RandomRunsAnyZoneAndFilter_EqualsDirectSumOfRuns(string zoneId)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var (runs, _) = await LoadAsync();
        var reports = _engine.Get<CostReports>();
        foreach (var filter in Filters())
        {
            var report = await reports.GetReportAsync(filter, zone, TestContext.Current.CancellationToken);
            var matching = runs.Where(r => Matches(r, filter)).ToList();

            Assert.Equal(Summary(matching), report.Totals);
            Assert.Equal(
                matching.GroupBy(r => DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(r.StartedAt, zone))).OrderBy(g => g.Key).Select(g => (g.Key, Summary(g))),
                report.ByDay.Select(d => (d.Start, d.Summary)));
            Assert.Equal(
                matching.GroupBy(r => r.PresetName).Select(g => (g.Key, Summary(g))).OrderBy(a => a.Key, StringComparer.Ordinal),
                report.ByAgent.Select(a => (a.Agent, a.Summary)).OrderBy(a => a.Agent, StringComparer.Ordinal));
            Assert.Equal(
                matching.GroupBy(r => (r.Provider, r.Model)).Select(g => (g.Key.Provider, g.Key.Model, Summary(g))).OrderBy(m => m.Provider + "/" + m.Model, StringComparer.Ordinal),
                report.ByModel.Select(m => (m.Provider, m.Model, m.Summary)).OrderBy(m => m.Provider + "/" + m.Model, StringComparer.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Zones))]
    public async Task QualityTrends_RandomScoresAnyZoneAndFilter_EqualsDirectComputation(string zoneId)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var (runs, evaluations) = await LoadAsync();
        var byId = runs.ToDictionary(r => r.Id);
        foreach (var filter in Filters())
        {
            var trend = await _engine.Get<QualityTrends>().GetAsync(new QualityTrendFilter
            {
                Preset = filter.Agent, Model = filter.Model, Provider = filter.Provider, From = filter.From, To = filter.To, TimeZone = zone,
                UserId = filter.UserId, Tag = filter.Tag,
            }, TestContext.Current.CancellationToken);
            var expected = evaluations
                .Where(e => (filter.UserId is null || byId[e.RunId].UserId == filter.UserId) && (filter.Tag is null || byId[e.RunId].Tags.Any(t => t.Tag == filter.Tag)))
                .Where(e => (filter.Agent is null || e.PresetName == filter.Agent) && (filter.Model is null || byId[e.RunId].Model == filter.Model)
                    && (filter.Provider is null || byId[e.RunId].Provider == filter.Provider)
                    && (filter.From is null || e.EvaluatedAt >= filter.From.Value.UtcDateTime) && (filter.To is null || e.EvaluatedAt < filter.To.Value.UtcDateTime))
                .GroupBy(e => (e.PresetName, Day: DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(e.EvaluatedAt, zone))))
                .OrderBy(g => g.Key.PresetName, StringComparer.Ordinal).ThenBy(g => g.Key.Day)
                .ToList();

            Assert.Equal(expected.Select(g => (g.Key.PresetName, g.Key.Day, g.Count())), trend.Select(p => (p.Preset, p.Day, p.Evaluations)));
            foreach (var (point, group) in trend.Zip(expected))
            {
                Assert.Equal(Math.Round(group.Sum(e => e.Score) / group.Count(), 2), point.MeanScore, 6);
                Assert.Equal((double)group.Count(e => e.Passed) / group.Count(), point.PassRate, 9);
                Assert.Equal(group.Count(e => e.Error is not null), point.Errors);
                Assert.Equal(NanoUsd.ToUsd(group.Sum(e => e.JudgeCostNanoUsd ?? 0)), point.JudgeCostUsd);
                var metrics = group.SelectMany(e => e.Metrics).Where(m => m.NormalizedScore is not null).GroupBy(m => m.Name)
                    .ToDictionary(m => m.Key, m => Math.Round(m.Sum(x => x.NormalizedScore!.Value) / m.Count(), 4));
                Assert.Equal(metrics.Keys.Order(), point.MetricMeans.Keys.Order());
                Assert.All(metrics, m => Assert.Equal(m.Value, point.MetricMeans[m.Key], 3));
            }
        }
    }

    [Fact]
    public async Task GetLatencyAsync_RandomDurationsAnyFilter_HistogramOfTheRunsWithin2PercentOrUpToTheLimitTheirOwn()
    {
        var (runs, _) = await LoadAsync();
        var analytics = _engine.Get<AnalyticsQueries>();
        var exactly = new AnalyticsQueries(_engine.Get<IDbContextFactory<StewardDbContext>>(), _engine.Get<CostReports>(), _engine.Get<QualityTrends>(),
            _engine.Get<StorageBackend>(), Options.Create(new ReportOptions { ExactPercentilesUpTo = 1_000_000 }));
        foreach (var filter in Filters())
        {
            var latency = await analytics.GetLatencyAsync(filter, TestContext.Current.CancellationToken);
            var own = await exactly.GetLatencyAsync(filter, TestContext.Current.CancellationToken);
            var durations = runs.Where(r => Matches(r, filter) && r.Status == "Completed" && r.DurationMs is not null).Select(r => r.DurationMs!.Value).Order().ToArray();
            var histogram = new SortedDictionary<int, long>(durations.GroupBy(LatencyBuckets.Of).ToDictionary(g => g.Key, g => (long)g.Count()));

            Assert.Equal(AnalyticsQueries.Percentiles(histogram), latency);
            Assert.Equal(durations.Length, latency.Runs);
            double? Rank(int percent) => durations.Length == 0 ? null : durations[Math.Max(1, (durations.Length * percent + 99) / 100) - 1];
            Assert.Equal(new LatencyPercentiles(durations.Length, Rank(50), Rank(90), Rank(95), Rank(99)) { Exact = durations.Length > 0 }, own);
            foreach (var (percent, value) in new[] { (50, latency.P50), (90, latency.P90), (95, latency.P95), (99, latency.P99) }.Where(p => durations.Length > 0))
            {
                var exact = durations[Math.Max(1, (durations.Length * percent + 99) / 100) - 1];
                Assert.InRange(value!.Value, exact < 1 ? 0 : exact / 1.0222, exact < 1 ? 1 : exact * 1.0222);
            }
        }
    }

    [Fact]
    public async Task SessionSummaries_AfterEveryKindOfWrite_EqualTheirRunsScoresAndRatings()
    {
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var sessions = await db.Sessions.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);
        var runs = await db.Runs.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);
        var scores = await db.Evaluations.AsNoTracking().ToDictionaryAsync(e => e.RunId, e => e.Score, TestContext.Current.CancellationToken);
        var ratings = await db.Feedback.AsNoTracking().ToDictionaryAsync(f => f.RunId, f => f.Rating, TestContext.Current.CancellationToken);

        Assert.NotEmpty(sessions);
        foreach (var session in sessions)
        {
            var own = runs.Where(r => r.SessionId == session.Id).ToList();
            var scored = own.Where(r => scores.ContainsKey(r.Id)).Select(r => scores[r.Id]).ToList();
            Assert.Equal(
                (own.Count, own.Count(r => r.Purpose == "eval"), own.Sum(r => r.InputTokens + r.OutputTokens), own.Count(r => r.CostNanoUsd is not null),
                    own.Count(r => r.CostNanoUsd is null && r.InputTokens + r.OutputTokens > 0), own.Sum(r => r.CostNanoUsd ?? 0), scored.Count,
                    own.Count(r => ratings.GetValueOrDefault(r.Id) > 0), own.Count(r => ratings.GetValueOrDefault(r.Id) < 0)),
                (session.RunCount, session.EvalRuns, session.Tokens, session.PricedRuns, session.UnpricedRuns, session.CostNanoUsd, session.Scored,
                    session.FeedbackUp, session.FeedbackDown));
            Assert.Equal(scored.Sum(), session.ScoreSum, 6);
        }

        // Nothing is left behind for deleted rows: every rollup row still counts something.
        Assert.DoesNotContain(await db.RunRollups.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken), r => r.Runs == 0);
        Assert.DoesNotContain(await db.QualityRollups.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken), r => r.Evaluations == 0);
        Assert.Equal(runs.Select(r => r.PresetName).Distinct().Order(StringComparer.Ordinal),
            (await _engine.Get<AnalyticsQueries>().GetFilterChoicesAsync(TestContext.Current.CancellationToken)).Agents);
    }

    [Fact]
    public async Task TextSearch_TitleOrAnyQuestion_SameSessionsAsAScan()
    {
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var sessions = await db.Sessions.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);
        var runs = await db.Runs.AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);
        foreach (var text in (string[])["inflation", "INFLATION NOW", "session 1", "kub", "zz", "50%", "q_"])
        {
            var found = await Steward.Sessions.TextSearch.Matching(db, db.Sessions.AsNoTracking(), text).Select(s => s.Id).ToListAsync(TestContext.Current.CancellationToken);
            var expected = sessions.Where(s => s.Title.Contains(text, StringComparison.OrdinalIgnoreCase)
                || runs.Any(r => r.SessionId == s.Id && r.Query.Contains(text, StringComparison.OrdinalIgnoreCase))).Select(s => s.Id);
            Assert.Equal(expected.Order(), found.Order());
        }
    }

    [Fact]
    public async Task SessionSearch_AnyFilterAndPage_EqualsAFilterOfTheSessionsRows()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
        var sessions = await db.Sessions.AsNoTracking().ToListAsync(ct);
        var runs = await db.Runs.AsNoTracking().ToListAsync(ct);
        var middle = sessions.Select(s => s.UpdatedAt).Order().ElementAt(sessions.Count / 2);
        var costs = sessions.Select(s => s.CostNanoUsd).Order().ToArray();
        (SessionFilter Filter, Func<SessionRecord, bool> Expected)[] cases =
        [
            (new SessionFilter(), _ => true),
            (new SessionFilter { IncludeEvaluation = true }, _ => true),
            (new SessionFilter { Agent = "writer" }, s => s.PresetName == "writer"),
            (new SessionFilter { Agent = "analyst", From = new DateTimeOffset(middle, TimeSpan.Zero) }, s => s.PresetName == "analyst" && s.UpdatedAt >= middle),
            (new SessionFilter { To = new DateTimeOffset(middle, TimeSpan.Zero) }, s => s.UpdatedAt < middle),
            (new SessionFilter { MinCostUsd = NanoUsd.ToUsd(costs[costs.Length / 4]), MaxCostUsd = NanoUsd.ToUsd(costs[costs.Length * 3 / 4]) },
                s => s.CostNanoUsd >= costs[costs.Length / 4] && s.CostNanoUsd <= costs[costs.Length * 3 / 4]),
            (new SessionFilter { MinQuality = 50 }, s => s.Scored > 0 && s.ScoreSum / s.Scored >= 50),
            (new SessionFilter { Text = "inflation", Agent = "advisor" }, s => s.PresetName == "advisor"
                && (s.Title.Contains("inflation", StringComparison.OrdinalIgnoreCase) || runs.Any(r => r.SessionId == s.Id && r.Query.Contains("inflation", StringComparison.OrdinalIgnoreCase)))),
        ];
        foreach (var (filter, expected) in cases)
        {
            var matching = sessions.Where(s => (filter.IncludeEvaluation || s.RunCount == 0 || s.EvalRuns < s.RunCount) && expected(s))
                .OrderByDescending(s => s.UpdatedAt).ToList();
            var listed = new List<SessionRow>();
            for (var skip = 0; skip <= matching.Count; skip += 7)
            {
                var page = await _engine.Get<SessionSearch>().SearchAsync(filter, skip, 7, ct);
                Assert.Equal(matching.Count, page.Total);
                listed.AddRange(page.Rows);
            }

            // Newest activity first, page after page, each session once (ties in activity may come in either order).
            Assert.Equal(matching.Select(s => s.UpdatedAt.Ticks), listed.Select(r => r.UpdatedAt.UtcTicks));
            Assert.Equal(matching.Select(s => s.Id).Order(), listed.Select(r => r.Id).Order());
            Assert.Equal(matching.Select(s => (s.Id, s.RunCount, s.CostNanoUsd)).OrderBy(s => s.Id), listed.Select(r => (r.Id, r.Runs, (long)((r.CostUsd ?? 0) * 1_000_000_000m))).OrderBy(s => s.Id));
        }
    }

    [Fact]
    public async Task SessionSearch_MoreMatchesThanCountedAhead_TotalIsALowerBoundThenExactNearTheEnd()
    {
        var ct = TestContext.Current.CancellationToken;
        var contexts = _engine.Get<IDbContextFactory<StewardDbContext>>();
        var search = new SessionSearch(contexts, countAhead: 5);
        var all = (await _engine.Get<SessionSearch>().SearchAsync(new SessionFilter { IncludeEvaluation = true }, 0, 7, ct)).Total;
        Assert.True(all > 12, $"{all} sessions");

        var first = await search.SearchAsync(new SessionFilter { IncludeEvaluation = true }, 0, 7, ct);
        var last = await search.SearchAsync(new SessionFilter { IncludeEvaluation = true }, all - 3, 7, ct);

        Assert.Equal((7, 12, true), (first.Rows.Count, first.Total, first.TotalIsLowerBound));
        Assert.Equal((3, all, false), (last.Rows.Count, last.Total, last.TotalIsLowerBound));
    }

    [Fact]
    public async Task SessionSearch_TextMatchingMoreThanCountedAhead_PagesInOrderAndTotalIsALowerBound()
    {
        var ct = TestContext.Current.CancellationToken;
        var text = new SessionFilter { Text = "inflation", IncludeEvaluation = true };
        var every = await _engine.Get<SessionSearch>().SearchAsync(text, 0, SessionSearch.MaxPageSize, ct);
        Assert.True(every.Total > 4, $"{every.Total} sessions");
        var search = new SessionSearch(_engine.Get<IDbContextFactory<StewardDbContext>>(), countAhead: 1);

        var first = await search.SearchAsync(text, 0, 2, ct);
        var second = await search.SearchAsync(text, 2, 2, ct);
        var last = await search.SearchAsync(text, every.Total - 1, 2, ct);

        Assert.Equal((2, 3, true), (first.Rows.Count, first.Total, first.TotalIsLowerBound));
        Assert.Equal((2, 5, every.Total > 5), (second.Rows.Count, second.Total, second.TotalIsLowerBound));
        Assert.Equal((1, every.Total, false), (last.Rows.Count, last.Total, last.TotalIsLowerBound));
        Assert.Equal(every.Rows.Take(4).Select(r => r.Id), first.Rows.Concat(second.Rows).Select(r => r.Id));
    }

    private static bool Matches(RunRecord r, CostFilter f) =>
        (f.Agent is null || r.PresetName == f.Agent) && (f.Model is null || r.Model == f.Model) && (f.Provider is null || r.Provider == f.Provider)
        && (f.From is null || r.StartedAt >= f.From.Value.UtcDateTime) && (f.To is null || r.StartedAt < f.To.Value.UtcDateTime)
        && (f.UserId is null || r.UserId == f.UserId) && (f.Tag is null || r.Tags.Any(t => t.Tag == f.Tag));

    [Fact]
    public async Task Outcomes_AfterEveryKindOfWrite_EqualDirectSumsByStatusUserTagAndRating()
    {
        var ct = TestContext.Current.CancellationToken;
        var (runs, _) = await LoadAsync();
        var analytics = _engine.Get<AnalyticsQueries>();
        static (long, long, long, decimal, long) Sums(IEnumerable<RunRecord> g)
        {
            var list = g.ToList();
            return (list.Count, list.Sum(r => r.InputTokens), list.Sum(r => r.OutputTokens), NanoUsd.ToUsd(list.Sum(r => r.CostNanoUsd ?? 0)),
                list.Count(r => r.CostNanoUsd is null && r.InputTokens + r.OutputTokens > 0));
        }

        foreach (var filter in Filters().Append(new CostFilter { UserId = "ana", Tag = "prod" }))
        {
            var matching = runs.Where(r => Matches(r, filter)).ToList();
            var snapshot = await analytics.GetAsync(filter, ct);

            Assert.Equal(
                matching.GroupBy(r => r.Status).Select(g => (g.Key, Sums(g))).OrderBy(s => s.Key, StringComparer.Ordinal),
                snapshot.Outcomes.ByStatus.Select(s => (s.Status.ToString(), (s.Runs, s.InputTokens, s.OutputTokens, s.CostUsd, s.UnpricedRuns))).OrderBy(s => s.Item1, StringComparer.Ordinal));
            Assert.Equal((matching.Count(r => r.Feedback?.Rating > 0), matching.Count(r => r.Feedback?.Rating < 0)), (snapshot.Feedback.Up, snapshot.Feedback.Down));
            Assert.Equal(snapshot.Feedback, await analytics.GetFeedbackAsync(filter, ct));
            Assert.Equal(
                matching.Where(r => r.UserId is not null).GroupBy(r => r.UserId!).Select(g => (g.Key, Sums(g))).OrderBy(s => s.Key, StringComparer.Ordinal)
                    .Select(s => (s.Key, s.Item2.Item1, s.Item2.Item2 + s.Item2.Item3, s.Item2.Item4, s.Item2.Item5)),
                snapshot.ByUser.Select(u => (u.Key, u.Runs, u.Tokens, u.CostUsd, u.UnpricedRuns)).OrderBy(s => s.Key, StringComparer.Ordinal));
            Assert.Equal(
                matching.SelectMany(r => r.Tags.Select(t => (t.Tag, Run: r))).GroupBy(x => x.Tag, x => x.Run).Select(g => (g.Key, Sums(g)))
                    .OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Item2.Item1, s.Item2.Item2 + s.Item2.Item3, s.Item2.Item4, s.Item2.Item5)),
                snapshot.ByTag.Select(u => (u.Key, u.Runs, u.Tokens, u.CostUsd, u.UnpricedRuns)).OrderBy(s => s.Key, StringComparer.Ordinal));
            Assert.Equal(Summary(matching), snapshot.Costs.Totals);

            var firstTokens = matching.Where(r => r.TimeToFirstTokenMs is not null).Select(r => r.TimeToFirstTokenMs!.Value).Order().ToArray();
            var histogram = new SortedDictionary<int, long>(firstTokens.GroupBy(LatencyBuckets.Of).ToDictionary(g => g.Key, g => (long)g.Count()));
            var expected = AnalyticsQueries.Percentiles(histogram);
            Assert.Equal(new TimeToFirstTokenPercentiles(expected.Runs, expected.P50, expected.P95), snapshot.FirstToken);
            foreach (var (percent, value) in new[] { (50, snapshot.FirstToken.P50), (95, snapshot.FirstToken.P95) }.Where(_ => firstTokens.Length > 0))
            {
                var exact = firstTokens[Math.Max(1, (firstTokens.Length * percent + 99) / 100) - 1];
                Assert.InRange(value!.Value, exact < 1 ? 0 : exact / 1.0222, exact < 1 ? 1 : exact * 1.0222);
            }
        }

        // Nothing is left behind for deleted or moved rows: every facet rollup row still counts a run.
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
        Assert.DoesNotContain(await db.FacetRollups.AsNoTracking().ToListAsync(ct), r => r.Runs == 0);
        Assert.DoesNotContain(await db.FirstTokenRollups.AsNoTracking().ToListAsync(ct), r => r.Runs == 0);
    }

    /// <summary>
    /// The per-user and per-tag rollups the triggers keep (histograms, quality and metrics by day and by hour, cost by hour, pairs of
    /// facets) and the monthly
    /// histograms of every run, row for row, equal
    /// what the raw rows give after every kind of write, with no row left that counts nothing.
    /// </summary>
    [Fact]
    public async Task FacetRollupTables_AfterEveryKindOfWrite_EqualTheRawRowsRowForRow()
    {
        var ct = TestContext.Current.CancellationToken;
        var (runs, evaluations) = await LoadAsync();
        var byId = runs.ToDictionary(r => r.Id);
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(ct);
        static string Day(DateTime time) => time.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        static IEnumerable<(string Facet, string Value)> FacetsOf(RunRecord r) =>
            (r.UserId is null ? [] : new[] { ("user", r.UserId) }).Concat(r.Tags.Select(t => ("tag", t.Tag)));
        async Task<List<string>> ReadAsync<T>(string sql, Func<T, string> line) =>
            [.. (await db.Database.SqlQueryRaw<T>(sql).ToListAsync(ct)).Select(line).Order(StringComparer.Ordinal)];

        var histograms = runs
            .SelectMany(r => FacetsOf(r).SelectMany(f => new[] { ("latency", r.Status == "Completed" ? r.DurationMs : null), ("first_token", r.TimeToFirstTokenMs) }
                .Where(h => h.Item2 is not null).Select(h => $"{f.Facet}|{f.Value}|{h.Item1}|{Day(r.StartedAt)}|{r.PresetName}|{r.Provider}|{r.Model}|{LatencyBuckets.Of(h.Item2!.Value)}")))
            .GroupBy(k => k).Select(g => $"{g.Key}|{g.Count()}").Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(histograms);
        Assert.Equal(histograms, await ReadAsync<HistogramRow>(
            "SELECT \"Facet\", \"Value\", \"Histogram\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\", CAST(\"Runs\" AS BIGINT) AS \"Runs\" FROM facet_histogram_rollups",
            r => $"{r.Facet}|{r.Value}|{r.Histogram}|{Day(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Bucket}|{r.Runs}"));

        var months = runs
            .SelectMany(r => new[] { ("latency", r.Status == "Completed" ? r.DurationMs : null), ("first_token", r.TimeToFirstTokenMs) }.Where(h => h.Item2 is not null)
                .Select(h => $"{h.Item1}|{r.StartedAt:yyyy-MM}|{r.PresetName}|{r.Provider}|{r.Model}|{LatencyBuckets.Of(h.Item2!.Value)}"))
            .GroupBy(k => k).Select(g => $"{g.Key}|{g.Count()}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(months, await ReadAsync<MonthRow>(
            "SELECT \"Histogram\", \"Month\", \"PresetName\", \"Provider\", \"Model\", \"Bucket\", CAST(\"Runs\" AS BIGINT) AS \"Runs\" FROM histogram_month_rollups",
            r => $"{r.Histogram}|{r.Month.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Bucket}|{r.Runs}"));

        var scored = evaluations.SelectMany(e => FacetsOf(byId[e.RunId]).Select(f => (f, e, r: byId[e.RunId]))).ToList();
        var quality = scored
            .GroupBy(x => $"{x.f.Facet}|{x.f.Value}|{Day(x.e.EvaluatedAt)}|{x.e.PresetName}|{x.r.Provider}|{x.r.Model}")
            .Select(g => $"{g.Key}|{g.Count()}|{Math.Round(g.Sum(x => x.e.Score), 6)}|{g.Count(x => x.e.Passed)}|{g.Count(x => x.e.Error is not null)}|{g.Sum(x => x.e.JudgeCostNanoUsd ?? 0)}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(quality);
        Assert.Equal(quality, await ReadAsync<QualityRow>(
            "SELECT \"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\", CAST(\"Evaluations\" AS BIGINT) AS \"Evaluations\", \"ScoreSum\", " +
            "CAST(\"Passed\" AS BIGINT) AS \"Passed\", CAST(\"Errors\" AS BIGINT) AS \"Errors\", CAST(\"JudgeCostNanoUsd\" AS BIGINT) AS \"JudgeCostNanoUsd\" FROM facet_quality_rollups",
            r => $"{r.Facet}|{r.Value}|{Day(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Evaluations}|{Math.Round(r.ScoreSum, 6)}|{r.Passed}|{r.Errors}|{r.JudgeCostNanoUsd}"));

        var metrics = scored.SelectMany(x => x.e.Metrics.Where(m => m.NormalizedScore is not null).Select(m => (x.f, x.e, x.r, m)))
            .GroupBy(x => $"{x.f.Facet}|{x.f.Value}|{Day(x.e.EvaluatedAt)}|{x.e.PresetName}|{x.r.Provider}|{x.r.Model}|{x.m.Name}")
            .Select(g => $"{g.Key}|{Math.Round(g.Sum(x => x.m.NormalizedScore!.Value), 6)}|{g.Count()}").Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(metrics);
        Assert.Equal(metrics, await ReadAsync<MetricRow>(
            "SELECT \"Facet\", \"Value\", \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Name\", \"Sum\", CAST(\"Count\" AS BIGINT) AS \"Count\" FROM facet_quality_metric_rollups",
            r => $"{r.Facet}|{r.Value}|{Day(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Name}|{Math.Round(r.Sum, 6)}|{r.Count}"));

        // The same users' and tags' cost and quality by UTC hour, which reports in other whole-hour zones sum into their days.
        static string HourOf(DateTime time) => time.ToString("yyyy-MM-dd HH", System.Globalization.CultureInfo.InvariantCulture);
        var costHours = runs.SelectMany(r => FacetsOf(r).Select(f => (f, r)))
            .GroupBy(x => $"{x.f.Facet}|{x.f.Value}|{HourOf(x.r.StartedAt)}|{x.r.PresetName}|{x.r.Provider}|{x.r.Model}")
            .Select(g => $"{g.Key}|{g.Count()}|{g.Count(x => x.r.CostNanoUsd is not null)}|{g.Count(x => x.r.CostNanoUsd is null && x.r.InputTokens + x.r.OutputTokens > 0)}" +
                $"|{g.Sum(x => x.r.CostNanoUsd ?? 0)}|{g.Sum(x => x.r.InputTokens - x.r.CachedInputTokens)}|{g.Sum(x => x.r.CachedInputTokens)}" +
                $"|{g.Sum(x => x.r.OutputTokens - x.r.ReasoningTokens)}|{g.Sum(x => x.r.ReasoningTokens)}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(costHours);
        Assert.Equal(costHours, await ReadAsync<CostHourRow>(
            "SELECT \"Facet\", \"Value\", \"Hour\" AS \"Day\", \"PresetName\", \"Provider\", \"Model\", CAST(\"Runs\" AS BIGINT) AS \"Runs\", " +
            "CAST(\"PricedRuns\" AS BIGINT) AS \"PricedRuns\", CAST(\"UnpricedRuns\" AS BIGINT) AS \"UnpricedRuns\", CAST(\"CostNanoUsd\" AS BIGINT) AS \"CostNanoUsd\", " +
            "CAST(\"UncachedInput\" AS BIGINT) AS \"UncachedInput\", CAST(\"CachedInput\" AS BIGINT) AS \"CachedInput\", " +
            "CAST(\"NonReasoningOutput\" AS BIGINT) AS \"NonReasoningOutput\", CAST(\"Reasoning\" AS BIGINT) AS \"Reasoning\" FROM facet_hour_rollups",
            r => $"{r.Facet}|{r.Value}|{HourOf(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Runs}|{r.PricedRuns}|{r.UnpricedRuns}|{r.CostNanoUsd}|{r.UncachedInput}" +
                $"|{r.CachedInput}|{r.NonReasoningOutput}|{r.Reasoning}"));

        var qualityHours = scored
            .GroupBy(x => $"{x.f.Facet}|{x.f.Value}|{HourOf(x.e.EvaluatedAt)}|{x.e.PresetName}|{x.r.Provider}|{x.r.Model}")
            .Select(g => $"{g.Key}|{g.Count()}|{Math.Round(g.Sum(x => x.e.Score), 6)}|{g.Count(x => x.e.Passed)}|{g.Count(x => x.e.Error is not null)}|{g.Sum(x => x.e.JudgeCostNanoUsd ?? 0)}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(qualityHours, await ReadAsync<QualityRow>(
            "SELECT \"Facet\", \"Value\", \"Hour\" AS \"Day\", \"PresetName\", \"Provider\", \"Model\", CAST(\"Evaluations\" AS BIGINT) AS \"Evaluations\", \"ScoreSum\", " +
            "CAST(\"Passed\" AS BIGINT) AS \"Passed\", CAST(\"Errors\" AS BIGINT) AS \"Errors\", CAST(\"JudgeCostNanoUsd\" AS BIGINT) AS \"JudgeCostNanoUsd\" FROM facet_quality_hour_rollups",
            r => $"{r.Facet}|{r.Value}|{HourOf(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Evaluations}|{Math.Round(r.ScoreSum, 6)}|{r.Passed}|{r.Errors}|{r.JudgeCostNanoUsd}"));

        var metricHours = scored.SelectMany(x => x.e.Metrics.Where(m => m.NormalizedScore is not null).Select(m => (x.f, x.e, x.r, m)))
            .GroupBy(x => $"{x.f.Facet}|{x.f.Value}|{HourOf(x.e.EvaluatedAt)}|{x.e.PresetName}|{x.r.Provider}|{x.r.Model}|{x.m.Name}")
            .Select(g => $"{g.Key}|{Math.Round(g.Sum(x => x.m.NormalizedScore!.Value), 6)}|{g.Count()}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(metricHours, await ReadAsync<MetricRow>(
            "SELECT \"Facet\", \"Value\", \"Hour\" AS \"Day\", \"PresetName\", \"Provider\", \"Model\", \"Name\", \"Sum\", CAST(\"Count\" AS BIGINT) AS \"Count\" " +
            "FROM facet_quality_metric_hour_rollups",
            r => $"{r.Facet}|{r.Value}|{HourOf(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Name}|{Math.Round(r.Sum, 6)}|{r.Count}"));

        var pairs = runs.SelectMany(r => r.Tags.SelectMany(t => (r.UserId is null ? [] : new[] { ("user", r.UserId, "tag", t.Tag), ("tag", t.Tag, "user", r.UserId) })
                .Concat(r.Tags.Select(b => ("tag", t.Tag, "tag", b.Tag)))).Select(p => (p, r)))
            .GroupBy(x => $"{x.p.Item1}|{x.p.Item2}|{x.p.Item3}|{x.p.Item4}|{Day(x.r.StartedAt)}|{x.r.PresetName}|{x.r.Provider}|{x.r.Model}")
            .Select(g => $"{g.Key}|{g.Count()}|{g.Sum(x => x.r.InputTokens + x.r.OutputTokens)}|{g.Sum(x => x.r.CostNanoUsd ?? 0)}|{g.Count(x => x.r.CostNanoUsd is null && x.r.InputTokens + x.r.OutputTokens > 0)}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(pairs);
        Assert.Equal(pairs, await ReadAsync<PairRow>(
            "SELECT \"Facet\", \"Value\", \"ByFacet\", \"ByValue\", \"Day\", \"PresetName\", \"Provider\", \"Model\", CAST(\"Runs\" AS BIGINT) AS \"Runs\", " +
            "CAST(\"Tokens\" AS BIGINT) AS \"Tokens\", CAST(\"CostNanoUsd\" AS BIGINT) AS \"CostNanoUsd\", CAST(\"UnpricedRuns\" AS BIGINT) AS \"UnpricedRuns\" FROM facet_cross_rollups",
            r => $"{r.Facet}|{r.Value}|{r.ByFacet}|{r.ByValue}|{Day(r.Day)}|{r.PresetName}|{r.Provider}|{r.Model}|{r.Runs}|{r.Tokens}|{r.CostNanoUsd}|{r.UnpricedRuns}"));
    }

    private class FacetKey
    {
        public string Facet { get; init; } = "";
        public string Value { get; init; } = "";
        public DateTime Day { get; init; }
        public string PresetName { get; init; } = "";
        public string Provider { get; init; } = "";
        public string Model { get; init; } = "";
    }

    private sealed class HistogramRow : FacetKey
    {
        public string Histogram { get; init; } = "";
        public int Bucket { get; init; }
        public long Runs { get; init; }
    }

    private sealed class MonthRow
    {
        public string Histogram { get; init; } = "";
        public DateTime Month { get; init; }
        public string PresetName { get; init; } = "";
        public string Provider { get; init; } = "";
        public string Model { get; init; } = "";
        public int Bucket { get; init; }
        public long Runs { get; init; }
    }

    private sealed class QualityRow : FacetKey
    {
        public long Evaluations { get; init; }
        public double ScoreSum { get; init; }
        public long Passed { get; init; }
        public long Errors { get; init; }
        public long JudgeCostNanoUsd { get; init; }
    }

    private sealed class MetricRow : FacetKey
    {
        public string Name { get; init; } = "";
        public double Sum { get; init; }
        public long Count { get; init; }
    }

    private sealed class CostHourRow : FacetKey
    {
        public long Runs { get; init; }
        public long PricedRuns { get; init; }
        public long UnpricedRuns { get; init; }
        public long CostNanoUsd { get; init; }
        public long UncachedInput { get; init; }
        public long CachedInput { get; init; }
        public long NonReasoningOutput { get; init; }
        public long Reasoning { get; init; }
    }

    private sealed class PairRow : FacetKey
    {
        public string ByFacet { get; init; } = "";
        public string ByValue { get; init; } = "";
        public long Runs { get; init; }
        public long Tokens { get; init; }
        public long CostNanoUsd { get; init; }
        public long UnpricedRuns { get; init; }
    }

    private static CostSummary Summary(IEnumerable<RunRecord> runs)
    {
        var list = runs.ToList();
        return new CostSummary(
            list.Count, list.Count(r => r.CostNanoUsd is not null), list.Count(r => r.CostNanoUsd is null && r.InputTokens + r.OutputTokens > 0),
            NanoUsd.ToUsd(list.Sum(r => r.CostNanoUsd ?? 0)),
            new TokenBreakdown(list.Sum(r => r.InputTokens - r.CachedInputTokens), list.Sum(r => r.CachedInputTokens), list.Sum(r => r.OutputTokens - r.ReasoningTokens),
                list.Sum(r => r.ReasoningTokens)));
    }
}
