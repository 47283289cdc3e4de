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
    public void ResolveTraceConnectionString_Set_UsesThatFileAndCreatesItsFolder()
    {
        var folder = Directory.CreateTempSubdirectory("steward-test-").FullName;
        var own = Path.Combine(folder, "spans", "traces.db");
        var options = new StorageOptions { Database = Path.Combine(folder, "steward.db"), TraceDatabase = own };

        var traces = new SqliteConnectionStringBuilder(options.ResolveTraceConnectionString());

        Assert.Equal(own, traces.DataSource);
        Assert.True(Directory.Exists(Path.Combine(folder, "spans")));
        Assert.True(traces.DefaultTimeout >= 30);
    }
}
