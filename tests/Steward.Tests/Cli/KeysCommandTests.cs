using System.Text.Json.Nodes;
using Steward.Cli.Commands;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary><c>steward keys</c> as a child process against a temporary database.</summary>
public sealed class KeysCommandTests : CliProcessTest
{
    [Fact]
    public async Task Create_PrintsTheSecretOnceAndKeepsOnlyItsHash()
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "keys", "create", "billing", "--models", "assistant", "openai/*",
            "--budget-usd", "5", "--period", "daily", "--rpm", "60", "--tpm", "100000", "--expires", "30d");

        Assert.Equal(0, exit);
        var secret = stdout.Trim();
        Assert.StartsWith("sk-stw-", secret, StringComparison.Ordinal);
        Assert.True(secret.Length >= 40, "256 random bits");
        Assert.Contains("cannot be shown again", stderr, StringComparison.Ordinal);

        var (_, list, _) = await CliProcess.RunAsync(Env, "keys", "list", "--json");
        var (_, show, _) = await CliProcess.RunAsync(Env, "keys", "show", "billing");
        var key = JsonNode.Parse(show)!;
        Assert.Equal(("billing", "active", "$5 daily; 60 requests/min; 100,000 tokens/min"),
            (key["name"]!.GetValue<string>(), key["state"]!.GetValue<string>(), key["limits"]!.GetValue<string>()));
        Assert.Equal(["assistant", "openai/*"], key["models"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.DoesNotContain(secret, list + show, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[7..], await ReadDatabaseAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_ThenShowSaysRevoked()
    {
        await CliProcess.RunAsync(Env, "keys", "create", "temp");

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "keys", "revoke", "temp");
        var (_, show, _) = await CliProcess.RunAsync(Env, "keys", "show", "temp");

        Assert.Equal(0, exit);
        Assert.Contains("revoked", stderr, StringComparison.Ordinal);
        Assert.Equal("revoked", JsonNode.Parse(show)!["state"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(2, "--period: needs --budget-usd or --budget-tokens", "keys", "create", "x", "--period", "daily")]
    [InlineData(2, "--expires: 'soon'", "keys", "create", "x", "--expires", "soon")]
    [InlineData(2, "NAME: 1 to 100 characters without spaces", "keys", "create", "two words")]
    [InlineData(3, "No key 'ghost'", "keys", "revoke", "ghost")]
    public async Task BadInput_OneLineAndNamedExitCode(int expectedExit, string expected, params string[] args)
    {
        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, args);

        Assert.Equal(expectedExit, exit);
        Assert.Contains(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.DoesNotContain("sk-stw-", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SameNameTwice_RefusedAndTheFirstKeepsWorking()
    {
        await CliProcess.RunAsync(Env, "keys", "create", "dup");

        var (exit, _, stderr) = await CliProcess.RunAsync(Env, "keys", "create", "dup");

        Assert.Equal(2, exit);
        Assert.Contains("exists already", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30d", 30 * 24)]
    [InlineData("12h", 12)]
    [InlineData("2027-01-31", -1)]
    public void ParseExpiry_DurationsAndDates(string text, int hours)
    {
        var now = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

        var at = KeysCommand.ParseExpiry(text, now);

        Assert.Equal(hours < 0 ? new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero) : now.AddHours(hours), at);
    }

    private async Task<string> ReadDatabaseAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var text = new System.Text.StringBuilder();
        foreach (var file in Folder.EnumerateFiles("steward.db*"))
        {
            await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
            text.Append(await reader.ReadToEndAsync(TestContext.Current.CancellationToken));
        }

        return text.ToString();
    }
}
