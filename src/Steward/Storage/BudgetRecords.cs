using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Steward.Storage;

// Budget ledger tables. The schema is managed by EF migrations; the ledger itself reads and writes them with plain
// SQL, because reservation is on every run's hot path and must be one short atomic transaction.

/// <summary>Spent and reserved amounts of one scope in one period.</summary>
internal sealed class BudgetCounterRecord
{
    public string ScopeKey { get; set; } = "";
    public string PeriodStart { get; set; } = "";
    public long SpentTokens { get; set; }
    public long SpentNanoUsd { get; set; }
    public long ReservedTokens { get; set; }
    public long ReservedNanoUsd { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A held reservation: which counters it holds and how much, until settled, released or expired.</summary>
internal sealed class BudgetReservationRecord
{
    public string Id { get; set; } = "";
    public string Lines { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public string Owner { get; set; } = "";
}

/// <summary>An alert threshold that fired, so it fires once per policy, period and threshold.</summary>
internal sealed class BudgetAlertRecord
{
    public string PolicyId { get; set; } = "";
    public string PeriodStart { get; set; } = "";
    public int Threshold { get; set; }
    public DateTime FiredAt { get; set; }
}

/// <summary>A budget policy set from the CLI (configuration and presets hold the others).</summary>
internal sealed class BudgetPolicyRecord
{
    public string Id { get; set; } = "";
    public string Scope { get; set; } = "";
    public string? Agent { get; set; }
    public string Period { get; set; } = "";
    public long? MaxTokens { get; set; }
    public long? MaxNanoUsd { get; set; }
    public string Mode { get; set; } = "";
    public string Thresholds { get; set; } = "";
    public string? Webhook { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>The budget ledger's tables, as each store that keeps them maps them.</summary>
internal static class BudgetLedgerModel
{
    public static void Map(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<BudgetCounterRecord>(e =>
        {
            e.ToTable("budget_counters");
            e.HasKey(c => new { c.ScopeKey, c.PeriodStart });
            e.Property(c => c.ScopeKey).HasMaxLength(200);
            e.Property(c => c.PeriodStart).HasMaxLength(40);
        });

        modelBuilder.Entity<BudgetReservationRecord>(e =>
        {
            e.ToTable("budget_reservations");
            e.HasKey(r => r.Id);
            e.HasIndex(r => r.ExpiresAt);
        });

        modelBuilder.Entity<BudgetAlertRecord>(e =>
        {
            e.ToTable("budget_alerts");
            e.HasKey(a => new { a.PolicyId, a.PeriodStart, a.Threshold });
        });
    }
}

/// <summary>
/// The budget ledger's own SQLite file (see <see cref="StorageOptions.BudgetDatabase"/>): only its schema and migrations,
/// since the ledger reads and writes it with plain SQL. On PostgreSQL the tables are the main database's.
/// </summary>
internal sealed class BudgetLedgerDbContext(DbContextOptions<BudgetLedgerDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => BudgetLedgerModel.Map(modelBuilder);
}

/// <summary>Lets <c>dotnet ef migrations add --context BudgetLedgerDbContext</c> build the model without starting an application.</summary>
internal sealed class DesignTimeBudgetLedgerDbContextFactory : IDesignTimeDbContextFactory<BudgetLedgerDbContext>
{
    public BudgetLedgerDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<BudgetLedgerDbContext>().UseSqlite("Data Source=design-time-budgets.db").Options);
}
