using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Steward.Tests.TestSupport;
using Steward.Users;

namespace Steward.Tests.Users;

public sealed class UserStoreSqliteTests : UserStoreTests
{
    protected override string Storage => "sqlite";
}

public sealed class UserStorePostgresTests : UserStoreTests
{
    protected override string Storage => "postgres";
}

/// <summary>Local accounts in the engine's database, on each provider: hashing, lockout, roles, and the rules that keep an admin.</summary>
public abstract class UserStoreTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));

    private TestEngine Engine { get; set; } = null!;

    protected abstract string Storage { get; }

    private string? _database;

    public async ValueTask InitializeAsync()
    {
        _database = await TestPostgres.DatabaseForAsync(Storage);
        Engine = await StartEngineAsync(folder: null);
    }

    /// <summary>An engine on this test's database; with <paramref name="folder"/>, a second instance beside the first.</summary>
    private Task<TestEngine> StartEngineAsync(string? folder) => TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
    {
        if (_database is not null)
        {
            s["Steward:Storage:Database"] = _database;
        }
    }, services => services.AddSingleton<TimeProvider>(_time), folder);

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    private UserStore Users => Engine.Get<UserStore>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateAsync_StoresOnlyAHashAndVerifiesThePassword()
    {
        var user = await Users.CreateAsync("Alice", "correct horse battery", StewardRoles.Operator, Ct);

        var right = await Users.VerifyAsync("alice", "correct horse battery", Ct);
        var wrong = await Users.VerifyAsync("alice", "Correct horse battery", Ct);

        Assert.Equal((SignInStatus.Succeeded, user.Id, "operator"), (right.Status, right.User!.Id, right.User.Role));
        Assert.Equal(SignInStatus.WrongNameOrPassword, wrong.Status);
        await using var db = await Engine.Get<IDbContextFactory<Steward.Storage.StewardDbContext>>().CreateDbContextAsync(Ct);
        var stored = Assert.Single(await db.Users.AsNoTracking().ToListAsync(Ct));
        Assert.DoesNotContain("horse", stored.PasswordHash, StringComparison.Ordinal);
        // ASP.NET Core Identity's v3 format: PBKDF2 with a salt of its own, marked by its first byte.
        Assert.Equal(1, Convert.FromBase64String(stored.PasswordHash)[0]);
    }

    [Fact]
    public async Task VerifyAsync_UnknownName_SameAnswerAsAWrongPassword()
    {
        await Users.CreateAsync("alice", "correct horse battery", StewardRoles.Viewer, Ct);

        var unknown = await Users.VerifyAsync("mallory", "whatever-password", Ct);

        Assert.Equal(new SignInOutcome(SignInStatus.WrongNameOrPassword, null, null), unknown);
    }

    [Fact]
    public async Task VerifyAsync_FiveFailures_LocksEvenTheRightPasswordUntilTheLockoutEnds()
    {
        await Users.CreateAsync("alice", "correct horse battery", StewardRoles.Viewer, Ct);
        for (var i = 0; i < UserStore.MaxFailedSignIns - 1; i++)
        {
            Assert.Equal(SignInStatus.WrongNameOrPassword, (await Users.VerifyAsync("alice", "guess-" + i, Ct)).Status);
        }

        var fifth = await Users.VerifyAsync("alice", "guess-last", Ct);
        var rightButLocked = await Users.VerifyAsync("alice", "correct horse battery", Ct);
        _time.Advance(UserStore.LockoutDuration + TimeSpan.FromSeconds(1));
        var afterLockout = await Users.VerifyAsync("alice", "correct horse battery", Ct);

        Assert.Equal(SignInStatus.LockedOut, fifth.Status);
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(1), fifth.LockedUntil);
        Assert.Equal(SignInStatus.LockedOut, rightButLocked.Status);
        Assert.Equal(SignInStatus.Succeeded, afterLockout.Status);
    }

    [Fact]
    public async Task ResetPasswordAsync_LiftsTheLockoutAndChangesTheStamp()
    {
        var before = await Users.CreateAsync("alice", "correct horse battery", StewardRoles.Viewer, Ct);
        for (var i = 0; i < UserStore.MaxFailedSignIns; i++)
        {
            await Users.VerifyAsync("alice", "guess-" + i, Ct);
        }

        var after = await Users.ResetPasswordAsync("alice", "a brand new password", Ct);

        Assert.NotEqual(before.Stamp, after.Stamp);
        Assert.Equal(SignInStatus.Succeeded, (await Users.VerifyAsync("alice", "a brand new password", Ct)).Status);
        Assert.Equal(SignInStatus.WrongNameOrPassword, (await Users.VerifyAsync("alice", "correct horse battery", Ct)).Status);
    }

    [Fact]
    public async Task CreateAsync_BadInput_ListsEveryProblemAndStoresNothing()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Users.CreateAsync("two words", "short", "owner", Ct));

        Assert.Contains("user name: 1 to 100 characters without spaces", error.Message, StringComparison.Ordinal);
        Assert.Contains("password: at least 8 characters", error.Message, StringComparison.Ordinal);
        Assert.Contains("role: 'owner' is not a role", error.Message, StringComparison.Ordinal);
        Assert.False(await Users.AnyAsync(Ct));
    }

    [Fact]
    public async Task CreateAsync_NameTakenInAnotherCase_Refused()
    {
        await Users.CreateAsync("alice", "correct horse battery", StewardRoles.Viewer, Ct);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Users.CreateAsync("ALICE", "another password", StewardRoles.Admin, Ct));

        Assert.Contains("exists already", error.Message, StringComparison.Ordinal);
        Assert.Equal("viewer", Assert.Single(await Users.ListAsync(Ct)).Role);
    }

    [Fact]
    public async Task CreateFirstAdminAsync_OnceAUserExists_Closed()
    {
        var first = await Users.CreateFirstAdminAsync("root", "correct horse battery", Ct);

        await Assert.ThrowsAsync<FirstRunClosedException>(() => Users.CreateFirstAdminAsync("intruder", "correct horse battery", Ct));

        Assert.Equal("admin", first.Role);
        Assert.Equal(["root"], (await Users.ListAsync(Ct)).Select(u => u.Name));
    }

    [Fact]
    public async Task CreateFirstAdminAsync_ManyAtOnceFromTwoInstances_ExactlyOneAdmin()
    {
        // Two instances on one empty database, several people submitting the first-run form at once on each: each
        // instance's write lock orders only its own writes, so only the database can let exactly one in.
        await using var other = await StartEngineAsync(Engine.Folder);
        var stores = new[] { Users, other.Get<UserStore>() };
        var attempts = Enumerable.Range(0, 12).Select(i => Task.Run(() => stores[i % 2].CreateFirstAdminAsync($"admin{i}", "correct horse battery", Ct), Ct)).ToArray();

        var outcomes = await Task.WhenAll(attempts.Select(async t =>
        {
            try
            {
                return (Admin: await t, Error: (FirstRunClosedException?)null);
            }
            catch (FirstRunClosedException ex)
            {
                return (Admin: (UserInfo?)null, Error: ex);
            }
        }));

        var winner = Assert.Single(outcomes, o => o.Admin is not null).Admin!;
        Assert.All(outcomes.Where(o => o.Admin is null), o => Assert.False(string.IsNullOrWhiteSpace(o.Error!.Message)));
        Assert.Equal([(winner.Name, "admin")], (await other.Get<UserStore>().ListAsync(Ct)).Select(u => (u.Name, u.Role)));
    }

    [Fact]
    public async Task RemoveAndSetRole_TheLastAdmin_RefusedUntilAnotherAdminExists()
    {
        await Users.CreateAsync("root", "correct horse battery", StewardRoles.Admin, Ct);
        await Users.CreateAsync("vera", "correct horse battery", StewardRoles.Viewer, Ct);

        var remove = await Assert.ThrowsAsync<ArgumentException>(() => Users.RemoveAsync("root", Ct));
        var demote = await Assert.ThrowsAsync<ArgumentException>(() => Users.SetRoleAsync("root", "viewer", Ct));
        await Users.SetRoleAsync("vera", "admin", Ct);
        await Users.RemoveAsync("root", Ct);

        Assert.Contains("only admin", remove.Message, StringComparison.Ordinal);
        Assert.Contains("only admin", demote.Message, StringComparison.Ordinal);
        Assert.Equal([("vera", "admin")], (await Users.ListAsync(Ct)).Select(u => (u.Name, u.Role)));
    }

    [Fact]
    public async Task SetRoleAsync_UnknownUser_NotFound()
    {
        var error = await Assert.ThrowsAsync<UserNotFoundException>(() => Users.SetRoleAsync("ghost", "viewer", Ct));

        Assert.Equal("No user 'ghost'. See 'steward users list'.", error.Message);
    }
}
