using SQLitePCL;

namespace Steward.Storage.Sqlite;

/// <summary>
/// Process-wide settings of the SQLite library, which it accepts only before its first connection opens.
/// </summary>
internal static class SqliteLibrary
{
    private static readonly int MemoryStatisticsResult = TurnMemoryStatisticsOff();

    /// <summary>
    /// Applies the settings once per process; a no-op after the first call. Returns SQLite's answer (0 when applied; 21,
    /// misuse, when a connection was opened first, which leaves SQLite as it was and is harmless).
    /// </summary>
    public static int Configure() => MemoryStatisticsResult;

    /// <summary>
    /// SQLite keeps process-wide memory statistics by default: every allocation of every connection takes one global
    /// mutex and asks the allocator for the block's size. Steward writes two files at once (the main file's run writer
    /// and the budget ledger's), besides readers, so those threads queued on that mutex; nothing reads the statistics
    /// (<c>sqlite3_status</c>, <c>sqlite3_soft_heap_limit64</c>). SQLite's own list of recommended options turns
    /// them off (SQLITE_DEFAULT_MEMSTATUS=0); the bundled library is built without it, so it is set at run time.
    /// </summary>
    private static int TurnMemoryStatisticsOff()
    {
        Batteries_V2.Init();
        return raw.sqlite3_config(raw.SQLITE_CONFIG_MEMSTATUS, 0);
    }
}
