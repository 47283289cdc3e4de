using System.Text.Json.Nodes;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary><c>steward sessions import</c> on exports that are hostile, or copies of a stored session.</summary>
public sealed class SessionsImportCommandTests : CliProcessTest
{
    [Fact]
    public async Task Import_CopyOfAStoredSession_RefusedInOneLineNamingAsCopy_ThenImportedAsACopy()
    {
        var (sessionId, exportPath) = await ExportAsync();
        var doc = JsonNode.Parse(await File.ReadAllTextAsync(exportPath, TestContext.Current.CancellationToken))!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();
        await File.WriteAllTextAsync(exportPath, doc.ToJsonString(), TestContext.Current.CancellationToken);

        var refused = await CliProcess.RunAsync(Env, "sessions", "import", exportPath);
        var copied = await CliProcess.RunAsync(Env, "sessions", "import", exportPath, "--as-copy");
        var list = await CliProcess.RunAsync(Env, "sessions", "list", "--json");

        Assert.Equal(2, refused.ExitCode);
        var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: runs[0].id: run ", line, StringComparison.Ordinal);
        Assert.EndsWith("Add --as-copy to import it with new ids.", line.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal(0, copied.ExitCode);
        Assert.Contains("Imported as a copy", copied.Stderr, StringComparison.Ordinal);
        var newId = copied.Stdout.Trim();
        Assert.NotEqual(sessionId, newId);
        Assert.Equal([newId, sessionId], JsonNode.Parse(list.Stdout)!.AsArray().Select(s => s!["id"]!.GetValue<string>()).OrderBy(id => id == newId ? 0 : 1));
    }

    [Fact]
    public async Task Import_NegativeTokensAndSystemMessage_ExitCode2AndOneLineNamingTheField()
    {
        var (_, exportPath) = await ExportAsync();
        var doc = JsonNode.Parse(await File.ReadAllTextAsync(exportPath, TestContext.Current.CancellationToken))!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();
        doc["runs"]![0]!["usage"]!["input_tokens"] = -4999584;
        await File.WriteAllTextAsync(exportPath, doc.ToJsonString(), TestContext.Current.CancellationToken);

        var (exit, stdout, stderr) = await CliProcess.RunAsync(Env, "sessions", "import", exportPath);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal("error: runs[0].usage.input_tokens: must be 0 or more (found -4999584). Nothing was imported.", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)).TrimEnd());
    }

    private async Task<(string SessionId, string Path)> ExportAsync()
    {
        var ask = await CliProcess.RunAsync(Env, "ask", "--agent", "assistant", "--json", "Remember 42");
        var sessionId = JsonNode.Parse(ask.Stdout)!["session_id"]!.GetValue<string>();
        var exportPath = Path.Combine(Folder.FullName, "export.json");
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "sessions", "export", sessionId, "--output", exportPath)).ExitCode);
        return (sessionId, exportPath);
    }
}
