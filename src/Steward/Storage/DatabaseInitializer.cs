using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Steward.Sessions;

namespace Steward.Storage;

/// <summary>
/// Brings the database up to date at start (migrations, WAL journaling so readers don't block the writer, background
/// checkpoints) and marks runs left behind by a crashed process as interrupted.
/// </summary>
internal sealed partial class DatabaseInitializer(
    IDbContextFactory<StewardDbContext> contexts, SessionStore sessions, Budgets.BudgetLedger ledger, WalCheckpointer checkpointer, Telemetry.TraceDatabase traces,
    IOptions<StorageOptions> options, ILogger<DatabaseInitializer> logger)
{
    private int _done;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }

        // First: it takes over the spans the main database's migrations are about to drop.
        await traces.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        }

        checkpointer.Start();

        var interrupted = await sessions.MarkInterruptedRunsAsync(options.Value.ForeignRunTimeout, cancellationToken).ConfigureAwait(false);
        if (interrupted > 0)
        {
            LogInterrupted(interrupted);
        }

        var expired = await ledger.ExpireAsync(cancellationToken).ConfigureAwait(false);
        if (expired > 0)
        {
            LogExpired(expired);
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "{Count} runs were left unfinished by a stopped process and are now marked Interrupted.")]
    private partial void LogInterrupted(int count);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "{Count} budget reservations left by stopped processes expired and were released.")]
    private partial void LogExpired(int count);
}
