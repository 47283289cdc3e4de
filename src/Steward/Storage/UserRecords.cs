namespace Steward.Storage;

/// <summary>
/// A local account of the web app. The password is kept only as ASP.NET Core Identity's hash (PBKDF2 with a salt per
/// user); failed sign-ins are counted here so a lockout holds across restarts and across instances.
/// </summary>
internal sealed class UserRecord
{
    public string Id { get; set; } = "";

    /// <summary>The name as typed when the account was made.</summary>
    public string Name { get; set; } = "";

    /// <summary>The name in lower case: unique, so <c>Alice</c> and <c>alice</c> are one account.</summary>
    public string NormalizedName { get; set; } = "";

    public string PasswordHash { get; set; } = "";

    /// <summary><c>viewer</c>, <c>operator</c> or <c>admin</c>.</summary>
    public string Role { get; set; } = "";

    /// <summary>Changes whenever the password or the role changes, so cookies issued before stop working.</summary>
    public string Stamp { get; set; } = "";

    /// <summary>
    /// 1 on the account the first-run form made, <see langword="null"/> on every other. Unique, so when two instances (or
    /// two people) submit the first-run form at once the database lets exactly one of them in.
    /// </summary>
    public int? FirstAdmin { get; set; }

    public int FailedSignIns { get; set; }
    public DateTime? LockedUntil { get; set; }
    public DateTime CreatedAt { get; set; }
}
