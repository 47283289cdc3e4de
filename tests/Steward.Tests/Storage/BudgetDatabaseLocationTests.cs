using Microsoft.Data.Sqlite;
using Steward.Storage;
using Steward.Storage.Sqlite;

namespace Steward.Tests.Storage;

public sealed class BudgetDatabaseLocationTests
{
    [Fact]
    public void ResolveBudgetConnectionString_NotSet_IsBesideTheMainDatabaseNamedAfterIt()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var options = new StorageOptions { Database = Path.Combine(folder, "team.sqlite") };

        var budgets = new SqliteConnectionStringBuilder(options.ResolveBudgetConnectionString());

        Assert.Equal(Path.Combine(folder, "team-budgets.sqlite"), budgets.DataSource);
        Assert.True(budgets.Pooling);
        Assert.True(budgets.DefaultTimeout >= 30);
    }

    [Fact]
    public void ResolveBudgetConnectionString_SetToTheMainDatabasesFile_NamesTheSettingAndSaysItMustBeAFileOfItsOwn()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var main = Path.Combine(folder, "steward.db");
        var options = new StorageOptions { Database = main, BudgetDatabase = $"Data Source={main};Cache=Shared" };

        var ex = Assert.Throws<StorageException>(() => options.ResolveBudgetConnectionString());

        Assert.StartsWith("Steward:Storage:BudgetDatabase is the main database's file", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a file of its own", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveBudgetConnectionString_Postgres_IsTheMainDatabase()
    {
        var options = new StorageOptions { Database = "Host=db.internal;Database=steward;Username=steward" };

        Assert.Equal(options.ResolveConnectionString(), options.ResolveBudgetConnectionString());
    }

    [Fact]
    public void CreateConnection_BudgetFolderMadeAfterAFailedAttempt_IsFoundTheNextTime()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var later = Path.Combine(folder, "later");
        var options = Microsoft.Extensions.Options.Options.Create(new StorageOptions
        {
            Database = Path.Combine(folder, "steward.db"), BudgetDatabase = Path.Combine(later, "budgets.db"),
        });
        var backend = new SqliteBackend(options, new SqliteWriteLock(),
            new WalCheckpointer(options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<WalCheckpointer>.Instance));

        var ex = Assert.Throws<StorageException>(() => backend.CreateConnection(StorageFile.Budgets));
        Directory.CreateDirectory(later);
        using var connection = backend.CreateConnection(StorageFile.Budgets);

        Assert.Contains("Steward:Storage:BudgetDatabase", ex.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(later, "budgets.db"), new SqliteConnectionStringBuilder(connection.ConnectionString).DataSource);
    }
}
