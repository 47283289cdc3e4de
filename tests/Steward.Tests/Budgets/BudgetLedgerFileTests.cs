using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Steward.Budgets;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Budgets;

/// <summary>On SQLite the budget ledger is a file of its own, beside the main one.</summary>
public sealed class BudgetLedgerFileTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReserveAsync_MainFilesWritersBusy_IsNotHeldUpByThem()
    {
        var (engine, _) = await BudgetTestSupport.StartAsync(s => BudgetTestSupport.Policy(s, 0, "global", "Global", "Daily", tokens: 1_000_000));
        await using var __ = engine;

        // This process's writers queue for the main file (a long run-writer batch holds the turn), and another process
        // holds the main file's write lock itself.
        using var turn = await engine.Get<SqliteWriteLock>().AcquireAsync(Ct);
        await using var other = new SqliteConnection($"Data Source={Path.Combine(engine.Folder, "steward.db")};Pooling=False");
        await other.OpenAsync(Ct);
        await using var otherWrite = other.BeginTransaction(deferred: false);

        // A hold is taken and given back all the same: nothing the ledger does waits for the main file.
        var reservation = await engine.Get<IBudgetGate>().ReserveAsync(BudgetTestSupport.CallRequest(engine), Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await reservation.ReleaseAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await engine.Get<BudgetEscrow>().FlushAsync(returnUnused: true, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        var period = BudgetPeriods.Key(BudgetPeriod.Daily, DateTimeOffset.UtcNow, TimeZoneInfo.Utc);
        var counter = (await engine.Get<BudgetLedger>().ReadAsync([("global", period)], Ct))[0];
        Assert.Equal((0L, 0L), (counter.SpentTokens, counter.ReservedTokens));
        Assert.True(File.Exists(Path.Combine(engine.Folder, "steward-budgets.db")));
    }

    [Fact]
    public async Task Start_MainDatabaseStillHoldingTheLedgerOfAnEarlierVersion_MovesCountersHoldsAndAlertsIntoTheLedgersFile()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var main = Path.Combine(folder, "steward.db");
        var later = DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        await using (var old = new StewardDbContext(new DbContextOptionsBuilder<StewardDbContext>().UseSqlite($"Data Source={main};Pooling=False").Options))
        {
            // The schema as it was before the ledger had a file of its own: a counter with spend and a hold on it, the hold
            // of a process on another machine that is still alive (its lease is renewed), and an alert that fired.
            await old.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>().MigrateAsync("20261201160000_EvaluationsByTime", Ct);
        }

        await using (var connection = new SqliteConnection($"Data Source={main};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using var insert = connection.CreateCommand();
            insert.CommandText =
                "INSERT INTO budget_counters (ScopeKey, PeriodStart, SpentTokens, SpentNanoUsd, ReservedTokens, ReservedNanoUsd, UpdatedAt) " +
                "VALUES ('global', '2026-12-02', 1234, 5678, 500, 70, '2026-12-02 09:00:00'); " +
                "INSERT INTO budget_reservations (Id, Lines, CreatedAt, ExpiresAt, Owner) " +
                "VALUES ('escrow:other-host/4242/a:global|2026-12-02', '[{\"K\":\"global\",\"P\":\"2026-12-02\",\"T\":500,\"U\":70}]', '2026-12-02 09:00:00', $later, 'other-host/4242/a'); " +
                "INSERT INTO process_leases (Id, Machine, ProcessId, StartedAt, RenewedAt, ExpiresAt) " +
                "VALUES ('other-host/4242/a', 'other-host', 4242, '2026-12-02 08:00:00', '2026-12-02 09:00:00', $later); " +
                "INSERT INTO budget_alerts (PolicyId, PeriodStart, Threshold, FiredAt) VALUES ('global', '2026-12-02', 80, '2026-12-02 09:00:00');";
            insert.Parameters.AddWithValue("$later", later);
            await insert.ExecuteNonQueryAsync(Ct);
        }

        // Leases renewed and swept every second.
        var (engine, _) = await BudgetTestSupport.StartAsync(s => s["Steward:Budgets:ReservationTimeout"] = "00:00:03", folder: folder);
        await using var __ = engine;

        // The first sweep has run: the live process's hold is still held, from the ledger's own file.
        var ledger = engine.Get<BudgetLedger>();
        var counter = (await ledger.ReadAsync([("global", "2026-12-02")], Ct))[0];
        Assert.Equal((1234L, 5678L, 500L, 70L), (counter.SpentTokens, counter.SpentNanoUsd, counter.ReservedTokens, counter.ReservedNanoUsd));
        Assert.Equal(1, await BudgetTestSupport.HoldRowsAsync(engine));
        Assert.Empty(await ledger.RecordAlertsAsync([new AlertKey("global", "2026-12-02", 80)], Ct)); // fired once, not again
        Assert.True(File.Exists(Path.Combine(folder, "steward-budgets.db")));
        await using var mainDb = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(0, await mainDb.Database.SqlQueryRaw<int>("SELECT COUNT(*) AS Value FROM sqlite_master WHERE name LIKE 'budget_%' AND name <> 'budget_policies'").SingleAsync(Ct));

        // Once that process's lease is gone (it stopped), this process's next sweep gives its hold back.
        await mainDb.Database.ExecuteSqlRawAsync("DELETE FROM process_leases WHERE Id = 'other-host/4242/a'", Ct);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((counter = (await ledger.ReadAsync([("global", "2026-12-02")], Ct))[0]).ReservedTokens != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal((1234L, 0L, 0L), (counter.SpentTokens, counter.ReservedTokens, counter.ReservedNanoUsd));
        Assert.Equal(0, await BudgetTestSupport.HoldRowsAsync(engine));
    }

    [Fact]
    public async Task Start_LedgerFileIsNotADatabase_FailsNamingTheSettingAndWhatToDo()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var ledgerFile = Path.Combine(folder, "steward-budgets.db");
        await File.WriteAllTextAsync(ledgerFile, "these are my notes, not a database", Ct);

        var ex = await Assert.ThrowsAsync<StorageException>(() => BudgetTestSupport.StartAsync(folder: folder));

        Assert.Equal($"Steward:Storage:BudgetDatabase is '{ledgerFile}', which Steward cannot use: it is not a SQLite database. " +
                     "Point the setting at a Steward database, or at a new file to create one.", ex.Message);
        Assert.Equal("these are my notes, not a database", await File.ReadAllTextAsync(ledgerFile, Ct));
    }
}
