using System.Text.Json.Nodes;
using Steward.Providers.Foundry;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Cli;

/// <summary>
/// Several <c>steward</c> processes against one fake Foundry project, configured only by <c>AZURE_AI_PROJECT_ENDPOINT</c>:
/// they share one agent version per preset definition, an edited preset makes exactly one more, and
/// <c>steward agents list|cleanup</c> report and remove only the versions Steward created that no preset uses.
/// </summary>
public sealed class AgentsCommandFoundryTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FakeFoundryProject _project = null!;
    private DirectoryInfo _folder = null!;
    private Dictionary<string, string> _env = null!;

    public async ValueTask InitializeAsync()
    {
        _project = await FakeFoundryProject.StartAsync();
        _folder = Directory.CreateTempSubdirectory("steward-foundry-");
        var agents = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents"));
        await File.WriteAllTextAsync(Path.Combine(agents.FullName, "assistant.yaml"), TestEngine.Preset("assistant"), Ct);
        _env = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = agents.FullName,
            ["AZURE_AI_PROJECT_ENDPOINT"] = _project.Endpoint,
            ["AZURE_AI_PROJECT_API_KEY"] = FakeFoundryProject.Key,
            ["AZURE_AI_MODEL_DEPLOYMENT_NAME"] = "gpt-4.1-mini",
            ["Steward__Providers__foundry__MaxRetries"] = "0",
        };
    }

    [Fact]
    public async Task Ask_ThreeProcessesThenAnEditedPreset_OneVersionThenExactlyOneMore_AndCleanupDeletesOnlyStewardsStaleVersion()
    {
        // Three processes at once, same preset: one agent version between them, every run on it.
        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => CliProcess.RunAsync(_env, "ask", $"Question {i}?", "--agent", "assistant", "--json")));
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Stderr));
        var first = Assert.Single(_project.Versions("assistant"));
        // Processes that raced past the lookup and created one too took their own back: one left, nothing else deleted.
        Assert.Equal(1, _project.VersionsCreated - _project.Deleted.Count);
        Assert.DoesNotContain($"assistant:{first["version"]}", _project.Deleted);
        var raced = _project.Deleted.Count;
        Assert.All(_project.Runs, r => Assert.Equal(first["version"]!.GetValue<string>(), r.Json["agent_reference"]!["version"]!.GetValue<string>()));

        // A fourth process later: still the same version, nothing created.
        var created = _project.VersionsCreated;
        Assert.Equal(0, (await CliProcess.RunAsync(_env, "ask", "Later?", "--agent", "assistant", "--json")).ExitCode);
        Assert.Equal(created, _project.VersionsCreated);

        // An edited preset: exactly one more version, used from then on.
        await File.WriteAllTextAsync(Path.Combine(_folder.FullName, "agents", "assistant.yaml"),
            TestEngine.Preset("assistant").Replace("Answer briefly.", "Answer in one sentence.", StringComparison.Ordinal), Ct);
        Assert.Equal(0, (await CliProcess.RunAsync(_env, "ask", "Edited?", "--agent", "assistant", "--json")).ExitCode);
        Assert.Equal(0, (await CliProcess.RunAsync(_env, "ask", "Edited again?", "--agent", "assistant", "--json")).ExitCode);
        var versions = _project.Versions("assistant");
        Assert.Equal(2, versions.Count);
        Assert.Equal(versions[1]["version"]!.GetValue<string>(), _project.Runs[^1].Json["agent_reference"]!["version"]!.GetValue<string>());

        // Someone else's version of the agent, and someone else's agent: listed, never cleaned up.
        _project.AddForeignVersion("assistant", "made by hand");
        _project.AddForeignVersion("portal-bot", "made by hand");
        var list = await CliProcess.RunAsync(_env, "agents", "list", "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        var listed = JsonNode.Parse(list.Stdout)!.AsArray();
        Assert.Equal(4, listed.Count);
        var old = listed.Single(a => a!["name"]!.GetValue<string>() == "assistant" && a["version"]!.GetValue<string>() == first["version"]!.GetValue<string>())!;
        Assert.Equal((true, false, 4), (old["created_by_steward"]!.GetValue<bool>(), old["in_use"]!.GetValue<bool>(), old["sessions_served"]!.GetValue<int>()));
        Assert.NotNull(old["last_used"]);

        var dry = await CliProcess.RunAsync(_env, "agents", "cleanup", "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Contains($"would delete assistant version {first["version"]}", dry.Stdout, StringComparison.Ordinal);
        Assert.Equal(raced, _project.Deleted.Count);

        var cleanup = await CliProcess.RunAsync(_env, "agents", "cleanup");
        Assert.True(cleanup.ExitCode == 0, cleanup.Stderr);
        Assert.Equal([$"assistant:{first["version"]}"], _project.Deleted.Skip(raced));
        Assert.Equal(2, _project.Versions("assistant").Count); // the one in use and the hand-made one
        Assert.Single(_project.Versions("portal-bot"));
        Assert.All(_project.Versions("assistant"), v => Assert.True(v["metadata"]?[FoundryAgentDefinition.HashKey] is null || v["version"]!.GetValue<string>() == versions[1]["version"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Ask_CleanupOnShutdown_DeletesTheVersionThisProcessCreated()
    {
        _env["Steward__Providers__foundry__CleanupOnShutdown"] = "true";

        var run = await CliProcess.RunAsync(_env, "ask", "Hello?", "--agent", "assistant", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(1, _project.VersionsCreated);
        Assert.Equal(["assistant:1"], _project.Deleted);
        Assert.Empty(_project.Versions("assistant"));
    }

    public async ValueTask DisposeAsync()
    {
        await _project.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
