using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Sessions;

/// <summary>
/// The provider-side conversation a session continues in (a Foundry conversation id), stored on the session row so a
/// continued session, in any process, goes on in the same conversation. Thread-safe.
/// </summary>
internal sealed class SessionConversationStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend)
{
    public async Task<string?> GetAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId).Select(s => s.ProviderConversationId)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores <paramref name="conversationId"/> unless the session already has one (two turns racing), and returns the one
    /// the session keeps.
    /// </summary>
    public async Task<string> SetIfUnsetAsync(Guid sessionId, string conversationId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.Sessions.Where(s => s.Id == sessionId && s.ProviderConversationId == null)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.ProviderConversationId, conversationId), cancellationToken).ConfigureAwait(false);
        }

        return await GetAsync(sessionId, cancellationToken).ConfigureAwait(false) ?? conversationId;
    }
}
