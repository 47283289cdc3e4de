using System.Buffers.Text;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Steward.Budgets;
using Steward.Storage;

namespace Steward.Keys;

/// <summary>Why a presented key was not accepted.</summary>
public enum ApiKeyRejection
{
    None,
    Missing,
    Unknown,
    Revoked,
    Expired,
}

/// <summary>
/// The gateway's virtual keys: made with a random 256-bit secret shown once, stored as its SHA-256 only, listed without
/// it, revoked by id or name. Every request's key is checked against a snapshot of the keys re-read every second (and at
/// once after a change made here), so a key revoked by another process (the CLI) stops working within a second.
/// Thread-safe.
/// </summary>
internal sealed class ApiKeyStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend, TimeProvider time) : IDisposable
{
    /// <summary>Every key starts with this.</summary>
    public const string SecretPrefix = "sk-stw-";

    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private readonly SemaphoreSlim _miss = new(1, 1);
    private volatile Snapshot _snapshot = new(FrozenDictionary<string, ApiKeyInfo>.Empty, DateTimeOffset.MinValue);

    /// <summary>Makes a key; returns it and its secret, which is not kept anywhere and cannot be shown again.</summary>
    /// <exception cref="ArgumentException">The spec is invalid (every problem listed), or the name is taken.</exception>
    public async Task<(ApiKeyInfo Key, string Secret)> CreateAsync(ApiKeySpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var now = time.GetUtcNow();
        var problems = spec.Validate(now).ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems) + ".");
        }

        var secret = SecretPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var record = new ApiKeyRecord
        {
            Id = "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Name = spec.Name,
            Prefix = secret[..(SecretPrefix.Length + 4)],
            Hash = Hash(secret),
            Models = spec.Models.Count == 0 ? null : string.Join(',', spec.Models),
            BudgetNanoUsd = NanoUsd.FromUsd(spec.BudgetUsd),
            BudgetTokens = spec.BudgetTokens,
            BudgetPeriod = spec.BudgetPeriod.ToString(),
            RequestsPerMinute = spec.RequestsPerMinute,
            TokensPerMinute = spec.TokensPerMinute,
            ExpiresAt = spec.ExpiresAt?.UtcDateTime,
            CreatedAt = now.UtcDateTime,
            Role = spec.Role,
        };

        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await db.ApiKeys.AnyAsync(k => k.Name == spec.Name, cancellationToken).ConfigureAwait(false))
            {
                throw new ArgumentException($"A key named '{spec.Name}' exists already; choose another name, or revoke it first ('steward keys revoke {spec.Name}').");
            }

            db.ApiKeys.Add(record);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        Invalidate();
        return (ToInfo(record), secret);
    }

    /// <summary>Every key, newest first, revoked ones included.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.ApiKeys.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
        return records.OrderByDescending(r => r.CreatedAt).Select(ToInfo).ToArray();
    }

    /// <summary>The key of this id or name.</summary>
    /// <exception cref="ApiKeyNotFoundException">There is none.</exception>
    public async Task<ApiKeyInfo> GetAsync(string idOrName, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var record = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == idOrName || k.Name == idOrName, cancellationToken).ConfigureAwait(false);
        return record is null ? throw new ApiKeyNotFoundException(idOrName) : ToInfo(record);
    }

    /// <summary>Revokes the key of this id or name: it stops working at once in this process, within a second in others. Revoking twice is harmless.</summary>
    /// <exception cref="ApiKeyNotFoundException">There is none.</exception>
    public async Task<ApiKeyInfo> RevokeAsync(string idOrName, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        ApiKeyRecord record;
        using (await backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            record = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == idOrName || k.Name == idOrName, cancellationToken).ConfigureAwait(false)
                ?? throw new ApiKeyNotFoundException(idOrName);
            record.RevokedAt ??= time.GetUtcNow().UtcDateTime;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        Invalidate();
        return ToInfo(record);
    }

    /// <summary>The key a request presented, or why it is refused.</summary>
    public async ValueTask<(ApiKeyInfo? Key, ApiKeyRejection Rejection)> AuthenticateAsync(string? secret, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return (null, ApiKeyRejection.Missing);
        }

        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal) || secret.Length > 200)
        {
            return (null, ApiKeyRejection.Unknown);
        }

        var hash = Hash(secret);
        var keys = await KeysAsync(cancellationToken).ConfigureAwait(false);
        // A key made a moment ago by another process (or instance) is not in a snapshot up to a second old: a miss looks
        // that one key up (an index seek), one miss at a time, so a stream of made-up keys cannot crowd the database.
        if (!keys.TryGetValue(hash, out var key) && (key = await FindAsync(hash, cancellationToken).ConfigureAwait(false)) is null)
        {
            return (null, ApiKeyRejection.Unknown);
        }

        return key.State(time.GetUtcNow()) switch
        {
            "revoked" => (key, ApiKeyRejection.Revoked),
            "expired" => (key, ApiKeyRejection.Expired),
            _ => (key, ApiKeyRejection.None),
        };
    }

    private async ValueTask<FrozenDictionary<string, ApiKeyInfo>> KeysAsync(CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (time.GetUtcNow() - snapshot.ReadAt < Refresh)
        {
            return snapshot.ByHash;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (time.GetUtcNow() - _snapshot.ReadAt < Refresh)
            {
                return _snapshot.ByHash;
            }

            await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var records = await db.ApiKeys.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
            var byHash = records.ToFrozenDictionary(r => r.Hash, ToInfo, StringComparer.Ordinal);
            _snapshot = new Snapshot(byHash, time.GetUtcNow());
            return byHash;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private async Task<ApiKeyInfo?> FindAsync(string hash, CancellationToken cancellationToken)
    {
        await _miss.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var record = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Hash == hash, cancellationToken).ConfigureAwait(false);
            if (record is null)
            {
                return null;
            }

            Invalidate();
            return ToInfo(record);
        }
        finally
        {
            _miss.Release();
        }
    }

    private void Invalidate() => _snapshot = _snapshot with { ReadAt = DateTimeOffset.MinValue };

    internal static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static ApiKeyInfo ToInfo(ApiKeyRecord r)
    {
        var period = Enum.Parse<BudgetPeriod>(r.BudgetPeriod);
        var usd = NanoUsd.ToUsd(r.BudgetNanoUsd);
        return new ApiKeyInfo
        {
            Id = r.Id,
            Name = r.Name,
            Prefix = r.Prefix,
            Models = r.Models?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [],
            BudgetUsd = usd,
            BudgetTokens = r.BudgetTokens,
            BudgetPeriod = period,
            RequestsPerMinute = r.RequestsPerMinute,
            TokensPerMinute = r.TokensPerMinute,
            ExpiresAt = r.ExpiresAt is { } e ? new DateTimeOffset(DateTime.SpecifyKind(e, DateTimeKind.Utc)) : null,
            CreatedAt = new DateTimeOffset(DateTime.SpecifyKind(r.CreatedAt, DateTimeKind.Utc)),
            RevokedAt = r.RevokedAt is { } v ? new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)) : null,
            Role = r.Role,
            Budgets = ApiKeyInfo.BudgetsOf(r.Id, r.Name, usd, r.BudgetTokens, period),
        };
    }

    public void Dispose()
    {
        _refresh.Dispose();
        _miss.Dispose();
    }

    private sealed record Snapshot(FrozenDictionary<string, ApiKeyInfo> ByHash, DateTimeOffset ReadAt);
}

/// <summary>No key has the given id or name.</summary>
public sealed class ApiKeyNotFoundException : Exception
{
    public ApiKeyNotFoundException(string idOrName) : base($"No key '{idOrName}'. See 'steward keys list'.") => IdOrName = idOrName;

    public ApiKeyNotFoundException() { }

    public ApiKeyNotFoundException(string message, Exception innerException) : base(message, innerException) { }

    public string IdOrName { get; } = "";
}
