using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Steward.Storage;
using Steward.Storage.Postgres;
using Steward.Storage.Sqlite;

namespace Steward.Tests.Storage;

/// <summary>
/// Each provider's migrations describe its model exactly: <c>dotnet ef migrations add Probe</c> would be empty for every
/// context (EF Core compares the model with the last migration's snapshot, as that command does).
/// </summary>
public sealed class MigrationsTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Migrations_EveryContextOfEachProvider_MatchItsModel(string provider)
    {
        // No server is needed: the comparison is between the model and the migrations compiled into the engine.
        var options = Options.Create(new StorageOptions
        {
            Database = provider == "postgres" ? "Host=localhost;Database=steward_probe" : Path.Combine(Path.GetTempPath(), "steward-probe.db"),
        });
        using var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        StorageBackend backend = provider == "postgres"
            ? new PostgresBackend(options)
            : new SqliteBackend(options, new SqliteWriteLock(), new WalCheckpointer(options, TimeProvider.System, services.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WalCheckpointer>>()));

        using var main = new StewardContextFactory(backend).CreateDbContext();
        using var traces = new TraceContextFactory(backend).CreateDbContext();

        // On SQLite the budget ledger is a file with migrations of its own; on PostgreSQL its tables are the main database's.
        using var budgets = provider == "postgres" ? null : new BudgetLedgerDbContext(StewardContextFactory.Build<BudgetLedgerDbContext>(backend, StorageFile.Budgets));
        foreach (DbContext context in (DbContext[])[main, traces, .. budgets is null ? Array.Empty<DbContext>() : [budgets]])
        {
            Assert.NotEmpty(context.Database.GetMigrations());
            Assert.False(context.Database.HasPendingModelChanges(), $"{context.GetType().Name} on {provider}: the model has changes no migration has; add one with dotnet ef migrations add.");
        }

        // Each provider runs its own migrations, never the other's.
        Assert.DoesNotContain(main.Database.GetMigrations(), m => traces.Database.GetMigrations().Contains(m));
        Assert.Equal(provider == "postgres" ? typeof(PostgresStewardDbContext) : typeof(StewardDbContext), main.GetType());
        Assert.Equal(provider == "postgres" ? "Npgsql.EntityFrameworkCore.PostgreSQL" : "Microsoft.EntityFrameworkCore.Sqlite", main.Database.ProviderName);
        Assert.Equal(provider == "postgres", main.Model.FindEntityType(typeof(BudgetCounterRecord)) is not null);
    }
}
