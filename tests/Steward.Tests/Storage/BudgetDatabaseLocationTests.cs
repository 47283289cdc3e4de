using Microsoft.Data.Sqlite;
using Steward.Storage;

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
}
