using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary><c>steward users</c> as a child process against a temporary database, the password piped on standard input.</summary>
public sealed class UsersCommandTests : CliProcessTest
{
    [Fact]
    public async Task AddListSetRoleResetRemove_ManageAnAccountAndNeverPrintItsPassword()
    {
        var add = await CliProcess.RunWithInputAsync(Env, "first password 1\n", "users", "add", "alice", "--role", "operator");
        var admin = await CliProcess.RunWithInputAsync(Env, "admin password 1\n", "users", "add", "root", "--role", "admin");
        var setRole = await CliProcess.RunAsync(Env, "users", "set-role", "alice", "viewer");
        var reset = await CliProcess.RunWithInputAsync(Env, "second password 2\n", "users", "reset-password", "alice");
        var (_, list, _) = await CliProcess.RunAsync(Env, "users", "list", "--json");
        var remove = await CliProcess.RunAsync(Env, "users", "remove", "alice");
        var (_, after, _) = await CliProcess.RunAsync(Env, "users", "list", "--json");

        Assert.Equal([0, 0, 0, 0, 0], new[] { add.ExitCode, admin.ExitCode, setRole.ExitCode, reset.ExitCode, remove.ExitCode });
        Assert.Contains("User alice added as operator.", add.Stderr, StringComparison.Ordinal);
        var users = JsonNode.Parse(list)!.AsArray();
        Assert.Equal([("alice", "viewer"), ("root", "admin")], users.Select(u => (u!["name"]!.GetValue<string>(), u["role"]!.GetValue<string>())));
        Assert.Equal(["root"], JsonNode.Parse(after)!.AsArray().Select(u => u!["name"]!.GetValue<string>()));
        var printed = string.Concat(add.Stdout, add.Stderr, reset.Stdout, reset.Stderr, list);
        Assert.DoesNotContain("password 1", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("password 2", printed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "password: at least 8 characters", "short\n", "users", "add", "bob")]
    [InlineData(2, "--role: 'owner' is not a role; use viewer, operator or admin", "long enough password\n", "users", "add", "bob", "--role", "owner")]
    [InlineData(3, "No user 'ghost'", "", "users", "remove", "ghost")]
    [InlineData(3, "No user 'ghost'", "", "users", "set-role", "ghost", "admin")]
    public async Task BadInput_OneLineAndNamedExitCode(int expectedExit, string expected, string input, params string[] args)
    {
        var (exit, _, stderr) = await CliProcess.RunWithInputAsync(Env, input, args);

        Assert.Equal(expectedExit, exit);
        Assert.Contains(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_TheOnlyAdmin_RefusedAndKept()
    {
        await CliProcess.RunWithInputAsync(Env, "admin password 1\n", "users", "add", "root", "--role", "admin");

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "users", "remove", "root");
        var (_, list, _) = await CliProcess.RunAsync(Env, "users", "list", "--json");

        Assert.Equal(2, exit);
        Assert.Contains("'root' is the only admin", stderr, StringComparison.Ordinal);
        Assert.Single(JsonNode.Parse(list)!.AsArray());
    }

    [Fact]
    public async Task KeysCreate_WithRole_ListsTheRole()
    {
        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "keys", "create", "script", "--role", "operator");
        var (_, show, _) = await CliProcess.RunAsync(Env, "keys", "show", "script");
        var (badExit, _, badErr) = await CliProcess.RunAsync(Env, "keys", "create", "other", "--role", "root");

        Assert.Equal(0, exit);
        Assert.Contains("/v1 and /api as operator", stderr, StringComparison.Ordinal);
        Assert.Equal("operator", JsonNode.Parse(show)!["role"]!.GetValue<string>());
        Assert.Equal(2, badExit);
        Assert.Contains("--role: 'root' is not a role", badErr, StringComparison.Ordinal);
    }
}
