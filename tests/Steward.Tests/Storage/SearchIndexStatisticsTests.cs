using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using SQLitePCL;
using Steward.Providers;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed class SearchIndexStatisticsTests
{
    private const string Title = "What is the capital of France?";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task IndexingASessionTitle_ReadsNoMorePagesAsTheIndexGrows()
    {
        // A store an earlier Steward started: its first start left the statistics of the empty index behind.
        string folder;
        await using (var earlier = await StartAsync(null))
        {
            folder = earlier.Folder;
            using var connection = (SqliteConnection)earlier.Get<StorageBackend>().OpenWriter();
            await ExecuteAsync(connection, "DELETE FROM sqlite_stat1 WHERE tbl = 'search_text_data'; INSERT INTO sqlite_stat1 VALUES ('search_text_data', NULL, '2');");
        }

        // Started again: connections opened before the start dropped those statistics (its checks, its migrations) must not
        // be the ones the run writer gets from the pool.
        await using var engine = await StartAsync(folder);

        // The run writer's kind of connection, on a store started as a user's is (the start gathers the planner's statistics).
        using var writer = (SqliteConnection)engine.Get<StorageBackend>().OpenWriter();
        // Mapped pages are not counted as page reads: read through the page cache, so every page the index touches is counted.
        await ExecuteAsync(writer, "PRAGMA mmap_size=0;");

        await InsertSessionsAsync(writer, 300);
        var early = await PagesReadAsync(writer, () => InsertSessionsAsync(writer, 40, perStatement: true));
        await InsertSessionsAsync(writer, 6000);
        var late = await PagesReadAsync(writer, () => InsertSessionsAsync(writer, 40, perStatement: true));

        // Each title indexed makes the same few changes to the index whatever its size (a new segment, a bounded merge step).
        // Planned from the statistics of the index's empty tables, one of FTS5's own statements read its data table whole on
        // every flush, so the same 40 titles read 3x the pages after 6,000 more (and more the larger it grew).
        Assert.True(late <= early * 2, $"Indexing 40 titles read {early} pages at 300 sessions and {late} at 6,340.");
    }

    [Fact]
    public async Task StoreStart_KeepsNoStatisticsOfTheSearchIndexTables()
    {
        await using var engine = await StartAsync(null);
        using var writer = (SqliteConnection)engine.Get<StorageBackend>().OpenWriter();

        // The start analyzed the rest (the planner's statistics exist), but not the search index's tables.
        Assert.True(await ScalarAsync(writer, "SELECT COUNT(*) FROM sqlite_stat1") > 0, "The start gathered no statistics at all.");
        Assert.Equal(0, await ScalarAsync(writer, "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl LIKE 'search_text%'"));
    }

    private static Task<TestEngine> StartAsync(string? folder) => TestEngine.StartAsync("http://127.0.0.1:9/v1",
        services: services => services.AddSingleton<IChatClientProvider>(new InstantChatClientProvider()), folder: folder);

    private static async Task InsertSessionsAsync(SqliteConnection connection, int count, bool perStatement = false)
    {
        await using var transaction = connection.BeginTransaction();
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        // Rows of a batch in one statement, as the run writer stores them; or one statement each, a flush of the index each.
        var rows = perStatement ? 1 : 50;
        insert.CommandText = "INSERT INTO sessions (\"Id\", \"Title\", \"PresetName\", \"CreatedAt\", \"UpdatedAt\") VALUES " +
            string.Join(", ", Enumerable.Range(0, rows).Select(i => $"($id{i}, $title, 'bench', $at, $at)"));
        insert.Parameters.AddWithValue("$title", Title);
        insert.Parameters.AddWithValue("$at", "2026-12-03 07:00:00");
        for (var i = 0; i < rows; i++)
        {
            insert.Parameters.Add(new SqliteParameter($"$id{i}", ""));
        }

        for (var done = 0; done < count; done += rows)
        {
            for (var i = 0; i < rows; i++)
            {
                insert.Parameters[$"$id{i}"].Value = Guid.CreateVersion7().ToString().ToUpperInvariant();
            }

            await insert.ExecuteNonQueryAsync(Ct);
        }

        await transaction.CommitAsync(Ct);
    }

    private static async Task<long> PagesReadAsync(SqliteConnection connection, Func<Task> work)
    {
        var before = PageReads(connection);
        await work();
        return PageReads(connection) - before;
    }

    private static long PageReads(SqliteConnection connection)
    {
        _ = raw.sqlite3_db_status(connection.Handle, raw.SQLITE_DBSTATUS_CACHE_HIT, out var hits, out _, 0);
        _ = raw.sqlite3_db_status(connection.Handle, raw.SQLITE_DBSTATUS_CACHE_MISS, out var misses, out _, 0);
        return (long)hits + misses;
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<long> ScalarAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }
}
