using Microsoft.EntityFrameworkCore;
using Steward.Costs;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Costs;

/// <summary>Days in a zone with daylight saving: the database sums by quarter hour, each counted in its local day.</summary>
public sealed class CostReportsTimeZoneTests
{
    [Fact]
    public async Task GetByDayAsync_AcrossDaylightSavingChange_UsesEachInstantsOwnOffset()
    {
        Assert.SkipUnless(TimeZoneInfo.TryFindSystemTimeZoneById("Europe/Paris", out var paris), "No time zone data for Europe/Paris.");
        var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1");
        try
        {
            // Paris leaves summer time (UTC+2) for UTC+1 at 01:00 UTC on 2026-10-25.
            // 10-24 22:30 UTC = 10-25 00:30 +02 · 10-25 22:30 UTC = 10-25 23:30 +01 · 10-25 23:15 UTC = 10-26 00:15 +01
            await InsertAsync(engine, (new DateTime(2026, 10, 24, 22, 30, 0, DateTimeKind.Utc), 1_000_000), (new DateTime(2026, 10, 25, 22, 30, 0, DateTimeKind.Utc), 2_000_000),
                (new DateTime(2026, 10, 25, 23, 15, 0, DateTimeKind.Utc), 4_000_000));

            var byDay = await engine.Get<CostReports>().GetByDayAsync(new CostFilter(), paris, TestContext.Current.CancellationToken);

            Assert.Equal([(new DateOnly(2026, 10, 25), 2L, 0.003m), (new DateOnly(2026, 10, 26), 1L, 0.004m)],
                byDay.Select(d => (d.Start, d.Summary.Runs, d.Summary.CostUsd)));
        }
        finally
        {
            await engine.DisposeAsync();
            Directory.Delete(engine.Folder, recursive: true);
        }
    }

    private static async Task InsertAsync(TestEngine engine, params (DateTime StartedAt, long CostNanoUsd)[] runs)
    {
        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var session = new SessionRecord { Id = Guid.NewGuid(), Title = "t", PresetName = "assistant", CreatedAt = runs[0].StartedAt, UpdatedAt = runs[0].StartedAt };
        db.Sessions.Add(session);
        foreach (var (startedAt, cost) in runs)
        {
            db.Runs.Add(new RunRecord
            {
                Id = Guid.NewGuid(), SessionId = session.Id, PresetName = "assistant", Provider = "openai", Model = "gpt-4o", Query = "q",
                Status = "Completed", StartedAt = startedAt, InputTokens = 10, OutputTokens = 10, CostNanoUsd = cost, Owner = "test",
            });
        }

        await db.SaveChangesAsync(TestContext.Current.CancellationToken);
    }
}
