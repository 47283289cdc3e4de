using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>What a failed write means, so callers outside storage need not know the database's error codes.</summary>
internal static class StorageErrors
{
    /// <summary>Whether the write broke a unique or primary key: the row was stored already (by someone else, meanwhile).</summary>
    public static bool IsDuplicateKey(DbUpdateException exception) => exception?.InnerException switch
    {
        Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 1555 or 2067 } => true,
        Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation } => true,
        _ => false,
    };
}
