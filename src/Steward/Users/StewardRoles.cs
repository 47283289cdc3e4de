namespace Steward.Users;

/// <summary>
/// The three roles of the web UI and the API, lowest first: a viewer reads; an operator also chats, runs evaluations,
/// gives feedback and exports; an admin also changes presets, budgets and keys, and deletes and imports sessions.
/// </summary>
public static class StewardRoles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Admin = "admin";

    /// <summary>The role names, lowest first.</summary>
    public static IReadOnlyList<string> All { get; } = [Viewer, Operator, Admin];

    /// <summary>The role's rank (0 for viewer), or -1 when <paramref name="role"/> is not one.</summary>
    public static int Rank(string? role) => role is null ? -1 : All.ToList().IndexOf(role);

    /// <summary>The role named by <paramref name="text"/> (any case, surrounding spaces ignored).</summary>
    /// <exception cref="ArgumentException">It names no role; the message lists the three.</exception>
    public static string Parse(string? text, string what = "role")
    {
        var role = text?.Trim().ToLowerInvariant();
        return Rank(role) >= 0 ? role! : throw new ArgumentException($"{what}: '{text}' is not a role; use viewer, operator or admin.");
    }
}
