using Microsoft.Data.Sqlite;
using Steward.Storage;

namespace Steward.Tests.Storage;

public sealed class TraceDatabaseLocationTests
{
    [Fact]
    public void ResolveTraceConnectionString_NotSet_IsBesideTheMainDatabaseNamedAfterIt()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var options = new StorageOptions { Database = Path.Combine(folder, "team.sqlite") };

        var traces = new SqliteConnectionStringBuilder(options.ResolveTraceConnectionString());

        Assert.Equal(Path.Combine(folder, "team-traces.sqlite"), traces.DataSource);
        Assert.True(traces.Pooling);
    }

    [Fact]
    public void ResolveTraceConnectionString_Set_UsesThatFile()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var own = Path.Combine(folder, "spans", "traces.db");
        Directory.CreateDirectory(Path.Combine(folder, "spans"));
        var options = new StorageOptions { Database = Path.Combine(folder, "steward.db"), TraceDatabase = own };

        var traces = new SqliteConnectionStringBuilder(options.ResolveTraceConnectionString());

        Assert.Equal(own, traces.DataSource);
        Assert.True(traces.DefaultTimeout >= 30);
    }

    [Fact]
    public void ResolveTraceConnectionString_SetInAFolderThatDoesNotExist_NamesTheSettingAndCreatesNothing()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var options = new StorageOptions { Database = Path.Combine(folder, "steward.db"), TraceDatabase = Path.Combine(folder, "typo", "traces.db") };

        var ex = Assert.Throws<StorageException>(() => options.ResolveTraceConnectionString());

        Assert.StartsWith("Steward:Storage:TraceDatabase is ", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(folder, "typo")));
    }
}
