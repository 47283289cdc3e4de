using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

/// <summary>A database Steward cannot use is one line naming it, with exit code 10, and nothing is created by mistake.</summary>
public sealed class StorageLocationTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-storage-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task AnyCommand_DatabaseInAFolderThatDoesNotExist_NamesItAndCreatesNoFolder()
    {
        var path = Path.Combine(_folder.FullName, "typo", "steward.db");

        var (exit, _, stderr) = await CliProcess.RunAsync(new Dictionary<string, string> { ["STEWARD_DB"] = path }, "sessions", "list");

        Assert.Equal(10, exit);
        Assert.Equal($"error: Steward:Storage:Database (STEWARD_DB) is '{path}', but the folder '{Path.GetDirectoryName(path)}' does not exist. " +
            "Create the folder, or point the setting at an existing one.", stderr.Trim());
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
    }

    [Fact]
    public async Task AnyCommand_FileThatIsNotADatabase_NamesItAndLeavesItAndItsFolderAlone()
    {
        var path = Path.Combine(_folder.FullName, "notes.txt");
        await File.WriteAllTextAsync(path, "not a database", TestContext.Current.CancellationToken);

        var (exit, _, stderr) = await CliProcess.RunAsync(new Dictionary<string, string> { ["STEWARD_DB"] = path }, "sessions", "list");

        Assert.Equal(10, exit);
        Assert.StartsWith($"error: Steward:Storage:Database (STEWARD_DB) is '{path}', which Steward cannot use: it is not a SQLite database.", stderr.Trim(), StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], Directory.GetFiles(_folder.FullName).Select(Path.GetFileName));
        Assert.Equal("not a database", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
    }
}
