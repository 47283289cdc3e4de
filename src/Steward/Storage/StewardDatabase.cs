using Microsoft.EntityFrameworkCore;

namespace Steward.Storage;

/// <summary>
/// Steward's database as a host starts, checks and stops it (the web app and each CLI command): no queries, no schema.
/// Registered by <c>AddSteward</c>; thread-safe.
/// </summary>
public sealed class StewardDatabase
{
    private readonly DatabaseInitializer _initializer;
    private readonly ProcessLease _lease;
    private readonly IDbContextFactory<StewardDbContext> _contexts;

    internal StewardDatabase(DatabaseInitializer initializer, ProcessLease lease, IDbContextFactory<StewardDbContext> contexts)
    {
        _initializer = initializer;
        _lease = lease;
        _contexts = contexts;
    }

    /// <summary>
    /// Brings the databases up to date (checks, migrations) and takes this process's lease, whose sweeps mark runs left
    /// behind by stopped processes as interrupted and release their budget holds. Call it before any run; idempotent.
    /// </summary>
    /// <exception cref="StorageException">A database cannot be used; the message names the setting, what is wrong and what to do.</exception>
    public Task InitializeAsync(CancellationToken cancellationToken) => _initializer.InitializeAsync(cancellationToken);

    /// <summary>Whether the database answers now (a health check).</summary>
    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Database.CanConnectAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops sweeping and gives this process's lease up, so other processes need not wait for it to expire. Call it once
    /// this process's runs have ended (<c>AgentRunner.StopAsync</c>), before the services are disposed.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) => _lease.StopAsync(cancellationToken);
}
