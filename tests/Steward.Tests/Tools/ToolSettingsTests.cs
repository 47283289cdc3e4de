using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Tools;

/// <summary>Web search and tool settings, in configuration and in presets: every problem named with its key, file and line.</summary>
public sealed class ToolSettingsTests : CliProcessTest
{
    [Fact]
    public async Task AnyCommand_BadWebSearchAndToolSettings_ExitsNamingEveryKeyWithoutTheKeys()
    {
        var env = new Dictionary<string, string>(Env)
        {
            ["Steward__WebSearch__Backend"] = "brave",
            ["Steward__WebSearch__Mode"] = "sometimes",
            ["Steward__WebSearch__MaxResults"] = "99",
            ["Steward__WebSearch__SearxngUrl"] = "ftp://search.local",
            ["Steward__WebSearch__SearchContextSize"] = "huge",
            ["TAVILY_API_KEY"] = "tvly-should-never-be-printed",
        };

        var (exit, stdout, stderr) = await CliProcess.RunAsync(env, "sessions", "list");

        Assert.Equal(4, exit);
        Assert.Equal("", stdout);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Steward:WebSearch:Mode 'sometimes'", error, StringComparison.Ordinal);
        Assert.Contains("Steward:WebSearch:MaxResults must be between 1 and 20", error, StringComparison.Ordinal);
        Assert.Contains("Steward:WebSearch:SearxngUrl 'ftp://search.local' is not an http(s) URL", error, StringComparison.Ordinal);
        Assert.Contains("Backend is brave but no key is set: set BRAVE_API_KEY", error, StringComparison.Ordinal);
        Assert.Contains("Steward:WebSearch:SearchContextSize 'huge'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("tvly-should-never-be-printed", stderr, StringComparison.Ordinal);

        var (toolsExit, _, toolsError) = await CliProcess.RunAsync(new Dictionary<string, string>(Env)
        {
            ["Steward__Tools__TimeoutSeconds"] = "0", ["Steward__Tools__MaxResultCharacters"] = "10",
        }, "sessions", "list");
        Assert.Equal(4, toolsExit);
        Assert.Contains("Steward:Tools:TimeoutSeconds must be between 1 and 3600", toolsError, StringComparison.Ordinal);
        Assert.Contains("Steward:Tools:MaxResultCharacters must be between 200 and 1000000", toolsError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_ToolNeedsApproval_AsksOnTheTerminalAndFollowsTheAnswer()
    {
        await File.WriteAllTextAsync(Path.Combine(Folder.FullName, "agents", "guarded.yaml"), TestEngine.Preset("guarded", $"""
            mcp:
              - name: companies
                command: dotnet
                args: ["{CliProcess.McpTestServerDll}"]
                require_approval: true
            """), TestContext.Current.CancellationToken);
        Server.Reply = FakeModelServer.CallToolThenAnswer("lookup_company", """{"name":"Acme"}""");

        var (exit, _, stderr) = await CliProcess.RunWithInputAsync(Env, "y\n", "ask", "--agent", "guarded", "--no-wait-quality", "Tell me about Acme.");

        Assert.True(exit == 0, stderr);
        Assert.Contains("Allow tool lookup_company (MCP server companies)", stderr, StringComparison.Ordinal);
        Assert.Contains("approved", stderr, StringComparison.Ordinal);
        Assert.Contains("founded 1998", Server.LastToolResult(), StringComparison.Ordinal);

        // With --json nobody is asked: the call is denied and the model told so.
        var (jsonExit, json, _) = await CliProcess.RunAsync(Env, "ask", "--agent", "guarded", "--no-wait-quality", "--json", "Tell me about Acme.");
        Assert.Equal(0, jsonExit);
        Assert.Contains("\"approval\": \"denied\"", json, StringComparison.Ordinal);
    }
}

/// <summary>The preset file's <c>web_search:</c>, <c>mcp:</c> and <c>require_approval:</c> fields.</summary>
public sealed class PresetToolFieldsTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-presets-");

    public void Dispose() => _folder.Delete(recursive: true);

    private AgentPreset Load(string yaml)
    {
        File.WriteAllText(Path.Combine(_folder.FullName, "p.yaml"), "name: p\ndisplay_name: P\ninstructions: Be brief.\n" + yaml);
        return new PresetCatalog(Options.Create(new PresetOptions { Directory = _folder.FullName }), NullLogger<PresetCatalog>.Instance).Get("p");
    }

    [Fact]
    public void Get_ToolFields_AreMapped()
    {
        var preset = Load("""
            web_search:
              backend: tavily
              mode: always
              max_results: 3
            mcp:
              - name: files
                command: npx
                args: [-y, some-mcp-server]
                env: { ROOT: /data }
                require_approval: true
                tools: [read_file]
              - name: remote
                url: https://mcp.example.org/mcp
                headers: { Authorization: Bearer x }
            require_approval: [web_search]
            """);

        Assert.True(preset.EnableWebSearch);
        Assert.Equal(("tavily", "always", 3), (preset.WebSearch.Backend, preset.WebSearch.Mode, preset.WebSearch.MaxResults));
        Assert.Equal(["files", "remote"], preset.McpServers.Select(s => s.Name));
        Assert.Equal(("npx", "/data", true), (preset.McpServers[0].Command, preset.McpServers[0].Env["ROOT"], preset.McpServers[0].RequireApproval));
        Assert.Equal(["read_file"], preset.McpServers[0].Tools);
        Assert.Equal(new Uri("https://mcp.example.org/mcp"), preset.McpServers[1].Url);
        Assert.Equal(["web_search"], preset.RequireApproval);
    }

    [Theory]
    [InlineData("web_search:\n  backend: bing\n", "line 5: web_search: backend 'bing' is not a backend")]
    [InlineData("web_search:\n  mode: sometimes\n", "line 5: web_search: mode 'sometimes' is not a mode")]
    [InlineData("web_search:\n  depth: 3\n", "unknown field 'depth'. Known fields: backend, mode, max_results")]
    [InlineData("enable_web_search: false\nweb_search:\n  mode: tool\n", "enable_web_search is false but a web_search: block is present")]
    [InlineData("mcp:\n  - name: a\n", "mcp: server 'a' needs either 'command'")]
    [InlineData("mcp:\n  - name: a\n    command: x\n    url: http://h/mcp\n", "not both")]
    [InlineData("mcp:\n  - name: a\n    url: file:///x\n", "url 'file:///x' is not an http(s) URL")]
    [InlineData("mcp:\n  - name: a\n    command: x\n  - name: a\n    command: y\n", "two servers are named 'a'")]
    [InlineData("mcp:\n  - name: a\n    command: x\n    secret: 1\n", "unknown field 'secret'. Known fields: name, command, args, env, url, headers, require_approval, tools")]
    public void Get_BadToolField_NamesFileLineAndProblem(string yaml, string expected)
    {
        var ex = Assert.Throws<PresetLoadException>(() => Load(yaml));

        Assert.Contains("p.yaml", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}

/// <summary>The <c>corpus</c> command's failures: one line naming what is wrong, and nothing already indexed lost.</summary>
public sealed class CorpusCommandTests : CliProcessTest
{
    [Fact]
    public async Task Corpus_MissingPathsAndUnknownDocuments_FailWithOneLineAndKeepWhatIsIndexed()
    {
        var notes = Directory.CreateDirectory(Path.Combine(Folder.FullName, "notes"));
        await File.WriteAllTextAsync(Path.Combine(notes.FullName, "a.md"), "# Heat pumps\nHeat pump sales in Europe.", TestContext.Current.CancellationToken);
        Assert.Equal(0, (await CliProcess.RunAsync(Env, "corpus", "add", notes.FullName)).ExitCode);

        var (missingExit, _, missingErr) = await CliProcess.RunAsync(Env, "corpus", "add", Path.Combine(Folder.FullName, "nope"));
        Assert.Equal(3, missingExit);
        Assert.Contains("no such file or folder", missingErr, StringComparison.Ordinal);

        var (rmExit, _, rmErr) = await CliProcess.RunAsync(Env, "corpus", "rm", "999");
        Assert.Equal(3, rmExit);
        Assert.Equal("error: No document '999' in the corpus; see 'steward corpus list'.", rmErr.Trim());

        var (searchExit, json, _) = await CliProcess.RunAsync(Env, "corpus", "search", "heat pumps", "--json");
        Assert.Equal(0, searchExit);
        Assert.Contains("Heat pumps", json, StringComparison.Ordinal);
    }
}
