using Microsoft.Extensions.DependencyInjection;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

/// <summary>
/// Every writer of a SQLite file keeps its savepoint journals in memory: the ledger applies each operation under a
/// savepoint, and with SQLite's default an escrow flush of a few hundred sessions spilled its journal to a temporary file
/// created, written and deleted on every flush.
/// </summary>
public sealed class SavepointJournalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(nameof(StorageFile.Main))]
    [InlineData(nameof(StorageFile.Budgets))]
    [InlineData(nameof(StorageFile.Traces))]
    public async Task Writers_KeepSavepointJournalsInMemory(string file)
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1",
            services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()));

        using var writer = engine.Get<StorageBackend>().OpenWriter(Enum.Parse<StorageFile>(file));
        await using var command = writer.CreateCommand();
        command.CommandText = "PRAGMA temp_store;";
        // 2 is MEMORY; 0, SQLite's default, leaves it to the build (a file in this one).
        Assert.Equal(2L, Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture));
    }
}
