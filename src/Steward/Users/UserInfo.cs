namespace Steward.Users;

/// <summary>A local account as listed: never its password or hash.</summary>
public sealed record UserInfo
{
    public required string Id { get; init; }
    public required string Name { get; init; }

    /// <summary><c>viewer</c>, <c>operator</c> or <c>admin</c> (<see cref="StewardRoles"/>).</summary>
    public required string Role { get; init; }

    /// <summary>Changes whenever the password or the role changes; a sign-in cookie carrying an older one is refused.</summary>
    public required string Stamp { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Until when sign-in is refused after repeated failures, or <see langword="null"/>.</summary>
    public DateTimeOffset? LockedUntil { get; init; }
}

/// <summary>How a sign-in attempt ended.</summary>
public enum SignInStatus
{
    Succeeded,

    /// <summary>No such user, or the wrong password: the two are not told apart to the caller.</summary>
    WrongNameOrPassword,

    /// <summary>Too many failures in a row; refused until <see cref="SignInOutcome.LockedUntil"/> even with the right password.</summary>
    LockedOut,
}

/// <summary>The result of <see cref="UserStore.VerifyAsync"/>.</summary>
public sealed record SignInOutcome(SignInStatus Status, UserInfo? User, DateTimeOffset? LockedUntil);

/// <summary>No local account has the given name or id.</summary>
public sealed class UserNotFoundException : Exception
{
    public UserNotFoundException(string name) : base($"No user '{name}'. See 'steward users list'.") => Name = name;

    public UserNotFoundException() { }

    public UserNotFoundException(string message, Exception innerException) : base(message, innerException) { }

    public string Name { get; } = "";
}

/// <summary>The first-run page was asked to make an admin, but an account exists already.</summary>
public sealed class FirstRunClosedException : Exception
{
    public FirstRunClosedException() : base("Steward has users already; sign in, or ask an admin ('steward users add').") { }

    public FirstRunClosedException(string message) : base(message) { }

    public FirstRunClosedException(string message, Exception innerException) : base(message, innerException) { }
}
