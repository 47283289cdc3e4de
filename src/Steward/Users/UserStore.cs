using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Steward.Storage;

namespace Steward.Users;

/// <summary>
/// The web app's local accounts, in Steward's database: passwords hashed with ASP.NET Core Identity's
/// <see cref="PasswordHasher{TUser}"/>, roles viewer/operator/admin, and a lockout after repeated failures that holds
/// across restarts and instances. The last admin can be neither removed nor demoted, so the app never locks its
/// owners out. Thread-safe; the web app and the CLI share it.
/// </summary>
public sealed class UserStore
{
    /// <summary>Failed sign-ins in a row that lock an account.</summary>
    public const int MaxFailedSignIns = 5;

    /// <summary>How long a locked account refuses every sign-in.</summary>
    public static readonly TimeSpan LockoutDuration = TimeSpan.FromMinutes(5);

    /// <summary>Shortest password accepted (NIST SP 800-63B's minimum for a user-chosen secret).</summary>
    public const int MinPasswordLength = 8;

    private const int MaxPasswordLength = 512;
    private static readonly PasswordHasher<UserRecord> Hasher = new();

    // Hashed for unknown names too, so the time a refusal takes does not tell which names exist.
    private static readonly string DummyHash = Hasher.HashPassword(new UserRecord(), "not a password " + Guid.NewGuid());

    private readonly IDbContextFactory<StewardDbContext> _contexts;
    private readonly StorageBackend _backend;
    private readonly TimeProvider _time;

    internal UserStore(IDbContextFactory<StewardDbContext> contexts, StorageBackend backend, TimeProvider time)
    {
        _contexts = contexts;
        _backend = backend;
        _time = time;
    }

    /// <summary>Whether any account exists (the first-run page works only while none does).</summary>
    public async Task<bool> AnyAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Users.AnyAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes an account.</summary>
    /// <exception cref="ArgumentException">The name, password or role is invalid (every problem listed), or the name is taken.</exception>
    public Task<UserInfo> CreateAsync(string name, string password, string role, CancellationToken cancellationToken) =>
        CreateCoreAsync(name, password, role, onlyIfFirst: false, cancellationToken);

    /// <summary>Makes the first admin; refused once any account exists, so the first-run page cannot be used twice.</summary>
    /// <exception cref="FirstRunClosedException">An account exists already.</exception>
    /// <exception cref="ArgumentException">The name or password is invalid.</exception>
    public Task<UserInfo> CreateFirstAdminAsync(string name, string password, CancellationToken cancellationToken) =>
        CreateCoreAsync(name, password, StewardRoles.Admin, onlyIfFirst: true, cancellationToken);

    private async Task<UserInfo> CreateCoreAsync(string name, string password, string role, bool onlyIfFirst, CancellationToken cancellationToken)
    {
        var problems = ValidateName(name).Concat(ValidatePassword(password)).ToList();
        if (StewardRoles.Rank(role) < 0)
        {
            problems.Add($"role: '{role}' is not a role; use viewer, operator or admin");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems) + ".");
        }

        var record = new UserRecord
        {
            Id = "usr_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            Name = name.Trim(),
            NormalizedName = Normalize(name),
            Role = role,
            Stamp = NewStamp(),
            CreatedAt = _time.GetUtcNow().UtcDateTime,
            FirstAdmin = onlyIfFirst ? 1 : null,
        };
        record.PasswordHash = Hasher.HashPassword(record, password);

        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            if (onlyIfFirst && await db.Users.AnyAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new FirstRunClosedException();
            }

            if (await db.Users.AnyAsync(u => u.NormalizedName == record.NormalizedName, cancellationToken).ConfigureAwait(false))
            {
                throw new ArgumentException($"A user named '{record.Name}' exists already; choose another name, or change theirs with 'steward users set-role|reset-password'.");
            }

            db.Users.Add(record);
            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (onlyIfFirst && StorageErrors.IsDuplicateKey(ex))
            {
                // The check above is per process (the write lock) and per moment: another instance, or another person on
                // this one, made the first admin meanwhile. The unique FirstAdmin slot lets exactly one of them in.
                throw new FirstRunClosedException("Someone else created the first admin a moment ago; sign in with that account, or ask its owner for one.", ex);
            }
        }

        return ToInfo(record);
    }

    /// <summary>Every account, by name.</summary>
    public async Task<IReadOnlyList<UserInfo>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var records = await db.Users.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. records.OrderBy(r => r.NormalizedName, StringComparer.Ordinal).Select(ToInfo)];
    }

    /// <summary>The account of this id, or <see langword="null"/> (a sign-in cookie of a removed user).</summary>
    public async Task<UserInfo?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var record = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, cancellationToken).ConfigureAwait(false);
        return record is null ? null : ToInfo(record);
    }

    /// <summary>Checks a name and password, counting failures and locking the account after <see cref="MaxFailedSignIns"/> in a row.</summary>
    public async Task<SignInOutcome> VerifyAsync(string name, string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(password);
        var normalized = Normalize(name);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var record = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.NormalizedName == normalized, cancellationToken).ConfigureAwait(false);
        if (record is null || password.Length > MaxPasswordLength)
        {
            Hasher.VerifyHashedPassword(new UserRecord(), DummyHash, password.Length > MaxPasswordLength ? "" : password);
            return new SignInOutcome(SignInStatus.WrongNameOrPassword, null, null);
        }

        var now = _time.GetUtcNow();
        if (record.LockedUntil is { } locked && Utc(locked) > now)
        {
            return new SignInOutcome(SignInStatus.LockedOut, null, Utc(locked));
        }

        var verdict = Hasher.VerifyHashedPassword(record, record.PasswordHash, password);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            // Re-read under the write lock: the failure count is a read-modify-write, and concurrent guesses must all count.
            var current = await db.Users.FirstOrDefaultAsync(u => u.Id == record.Id, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return new SignInOutcome(SignInStatus.WrongNameOrPassword, null, null);
            }

            if (verdict == PasswordVerificationResult.Failed)
            {
                current.FailedSignIns++;
                if (current.FailedSignIns >= MaxFailedSignIns)
                {
                    current.FailedSignIns = 0;
                    current.LockedUntil = (now + LockoutDuration).UtcDateTime;
                }

                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return current.LockedUntil is { } until && Utc(until) > now
                    ? new SignInOutcome(SignInStatus.LockedOut, null, Utc(until))
                    : new SignInOutcome(SignInStatus.WrongNameOrPassword, null, null);
            }

            current.FailedSignIns = 0;
            current.LockedUntil = null;
            if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            {
                current.PasswordHash = Hasher.HashPassword(current, password);
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return new SignInOutcome(SignInStatus.Succeeded, ToInfo(current), null);
        }
    }

    /// <summary>Gives an account another role; its sign-in cookies stop working. The last admin cannot be demoted.</summary>
    /// <exception cref="UserNotFoundException">There is no such account.</exception>
    /// <exception cref="ArgumentException">The role is invalid, or this would leave no admin.</exception>
    public Task<UserInfo> SetRoleAsync(string name, string role, CancellationToken cancellationToken)
    {
        var parsed = StewardRoles.Parse(role);
        return UpdateAsync(name, async (db, record) =>
        {
            if (record.Role == StewardRoles.Admin && parsed != StewardRoles.Admin && !await OtherAdminExistsAsync(db, record, cancellationToken).ConfigureAwait(false))
            {
                throw new ArgumentException($"'{record.Name}' is the only admin; make another user admin first ('steward users set-role NAME admin').");
            }

            record.Role = parsed;
            record.Stamp = NewStamp();
        }, cancellationToken);
    }

    /// <summary>Sets a new password and lifts any lockout; the account's sign-in cookies stop working.</summary>
    /// <exception cref="UserNotFoundException">There is no such account.</exception>
    /// <exception cref="ArgumentException">The password is too short or too long.</exception>
    public Task<UserInfo> ResetPasswordAsync(string name, string password, CancellationToken cancellationToken)
    {
        var problems = ValidatePassword(password).ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems) + ".");
        }

        return UpdateAsync(name, (_, record) =>
        {
            record.PasswordHash = Hasher.HashPassword(record, password);
            record.Stamp = NewStamp();
            record.FailedSignIns = 0;
            record.LockedUntil = null;
            return Task.CompletedTask;
        }, cancellationToken);
    }

    /// <summary>Removes an account; the last admin cannot be removed.</summary>
    /// <exception cref="UserNotFoundException">There is no such account.</exception>
    /// <exception cref="ArgumentException">It is the only admin.</exception>
    public async Task<UserInfo> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = await FindAsync(db, name, cancellationToken).ConfigureAwait(false);
            if (record.Role == StewardRoles.Admin && !await OtherAdminExistsAsync(db, record, cancellationToken).ConfigureAwait(false))
            {
                throw new ArgumentException($"'{record.Name}' is the only admin; make another user admin first ('steward users set-role NAME admin').");
            }

            db.Users.Remove(record);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return ToInfo(record);
        }
    }

    private async Task<UserInfo> UpdateAsync(string name, Func<StewardDbContext, UserRecord, Task> change, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using (await _backend.EnterWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = await FindAsync(db, name, cancellationToken).ConfigureAwait(false);
            await change(db, record).ConfigureAwait(false);
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return ToInfo(record);
        }
    }

    private static async Task<UserRecord> FindAsync(StewardDbContext db, string name, CancellationToken cancellationToken)
    {
        var normalized = Normalize(name);
        return await db.Users.FirstOrDefaultAsync(u => u.NormalizedName == normalized || u.Id == name, cancellationToken).ConfigureAwait(false)
            ?? throw new UserNotFoundException(name);
    }

    private static Task<bool> OtherAdminExistsAsync(StewardDbContext db, UserRecord record, CancellationToken cancellationToken) =>
        db.Users.AnyAsync(u => u.Role == StewardRoles.Admin && u.Id != record.Id, cancellationToken);

    /// <summary>Every problem with a user name, each naming what to fix.</summary>
    public static IEnumerable<string> ValidateName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > 100 || name.Trim().Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            yield return "user name: 1 to 100 characters without spaces (e.g. alice or alice@example.com)";
        }
    }

    /// <summary>Every problem with a new password, each naming what to fix.</summary>
    public static IEnumerable<string> ValidatePassword(string? password)
    {
        if (password is null || password.Length < MinPasswordLength)
        {
            yield return $"password: at least {MinPasswordLength} characters";
        }
        else if (password.Length > MaxPasswordLength)
        {
            yield return $"password: at most {MaxPasswordLength} characters";
        }
    }

    private static string Normalize(string name) => name.Trim().ToLowerInvariant();

    private static string NewStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static UserInfo ToInfo(UserRecord r) => new()
    {
        Id = r.Id,
        Name = r.Name,
        Role = r.Role,
        Stamp = r.Stamp,
        CreatedAt = Utc(r.CreatedAt),
        LockedUntil = r.LockedUntil is { } l ? Utc(l) : null,
    };
}
