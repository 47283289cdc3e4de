using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed class MemoryMappingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StoreConnections_ReadTheDatabaseFileThroughMemoryMapping()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));

        // The run writer's own connection, and a connection of the kind every query uses.
        using (var writer = engine.Get<StorageBackend>().OpenWriter())
        {
            Assert.True(await MappedBytesAsync(writer) >= 1L << 30, "The run writer reads the database without memory mapping.");
        }

        await using var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        await db.Database.OpenConnectionAsync(Ct);
        Assert.True(await MappedBytesAsync(db.Database.GetDbConnection()) >= 1L << 30, "Queries read the database without memory mapping.");
    }

    private static async Task<long> MappedBytesAsync(System.Data.Common.DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA mmap_size;";
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
