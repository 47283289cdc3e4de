using System.Text.Json;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Tools;

/// <summary>
/// The README's market-analyst tour as a newcomer runs it, with the real CLI, the repository's own presets and sample
/// corpus, the embedded engine and no account: load the corpus, ask, get an answer with the corpus's sources.
/// </summary>
public sealed class MarketAnalystTourTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-tour-");

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Steward.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("The repository root (Steward.slnx) was not found above the test output.");
    }

    [Fact]
    public async Task Tour_CorpusAddThenAskMarketAnalyst_AnswersWithTheSampleCorpusAsSources()
    {
        var model = TestModels.Require("stories260K.gguf");
        var root = RepositoryRoot();
        var env = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["STEWARD_MODEL"] = model,
            ["Steward__Agents__Directory"] = Path.Combine(root, "agents"),
        };

        var (addExit, _, addErr) = await CliProcess.RunAsync(env, "corpus", "add", Path.Combine(root, "corpus", "market"));
        Assert.True(addExit == 0, addErr);
        Assert.Contains("4 document(s) indexed", addErr, StringComparison.Ordinal);

        var (exit, stdout, stderr) = await CliProcess.RunAsync(env, "ask", "--agent", "market_analyst", "--max-tokens", "24", "--no-wait-quality",
            "How big is the public EV charging market in Europe, and who are the main players?");
        Assert.True(exit == 0, stderr);
        Assert.False(string.IsNullOrWhiteSpace(stdout));
        Assert.Contains("Calling tool web_search", stderr, StringComparison.Ordinal);
        Assert.Contains("[1] Public EV charging in Europe", stderr, StringComparison.Ordinal);
        Assert.Contains("https://www.iea.org/reports/global-ev-outlook-2024", stderr, StringComparison.Ordinal);

        var (jsonExit, json, jsonErr) = await CliProcess.RunAsync(env, "ask", "--agent", "market_analyst", "--max-tokens", "8", "--no-wait-quality", "--json",
            "What are the trends in plant-based protein?");
        Assert.True(jsonExit == 0, jsonErr);
        using var result = JsonDocument.Parse(json);
        var first = result.RootElement.GetProperty("citations")[0];
        Assert.Equal("https://gfi.org/resource/plant-based-meat-eggs-and-dairy-state-of-the-industry-report/", first.GetProperty("url").GetString());
        Assert.Equal("web_search", result.RootElement.GetProperty("tool_calls")[0].GetProperty("name").GetString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }
}
