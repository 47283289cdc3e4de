using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Steward.Storage.Postgres;

/// <summary>
/// Steward's database on PostgreSQL: the model of <see cref="StewardDbContext"/> and the budget ledger's tables (no single
/// writer to keep them apart from), with PostgreSQL's migrations.
/// </summary>
internal sealed class PostgresStewardDbContext(DbContextOptions options) : StewardDbContext(options)
{
    protected override string Column(string name) => $"\"{name}\"";

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        BudgetLedgerModel.Map(modelBuilder);
    }
}

/// <summary>The trace store on PostgreSQL, in the main database with a migrations history of its own.</summary>
internal sealed class PostgresTraceDbContext(DbContextOptions options) : Telemetry.TraceDbContext(options);

/// <summary>
/// Lets <c>dotnet ef migrations add --context PostgresStewardDbContext</c> build the model without a server (no
/// connection is opened to add a migration).
/// </summary>
internal sealed class DesignTimePostgresDbContextFactory : IDesignTimeDbContextFactory<PostgresStewardDbContext>
{
    public PostgresStewardDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<StewardDbContext>().UseNpgsql("Host=localhost;Database=steward_design").Options);
}

/// <inheritdoc cref="DesignTimePostgresDbContextFactory"/>
internal sealed class DesignTimePostgresTraceDbContextFactory : IDesignTimeDbContextFactory<PostgresTraceDbContext>
{
    public PostgresTraceDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<Telemetry.TraceDbContext>()
            .UseNpgsql("Host=localhost;Database=steward_design", o => o.MigrationsHistoryTable(PostgresBackend.TraceHistoryTable)).Options);
}
