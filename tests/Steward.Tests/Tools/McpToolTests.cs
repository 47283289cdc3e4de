using System.Diagnostics;
using Steward.Agents;
using Steward.Tests.TestSupport;
using Steward.Tools;
using Steward.Tools.Mcp;

namespace Steward.Tests.Tools;

/// <summary>
/// A preset's MCP servers, with the test suite's own stdio MCP server (tests/Steward.McpTestServer, built on the
/// ModelContextProtocol server package) started through the ModelContextProtocol client: its tool called by the agent,
/// a server that dies mid-call, one that fails to start, and approvals.
/// </summary>
public sealed class McpToolTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Tools:TimeoutSeconds"] = "60";
        settings["Steward:Tools:McpStartTimeoutSeconds"] = "60";
    }

    private Task WritePresetAsync(string name, string extraArgs = "", string extra = "") =>
        File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, name + ".yaml"), TestEngine.Preset(name, $"""
            mcp:
              - name: companies
                command: dotnet
                args: ["{CliProcess.McpTestServerDll}"{extraArgs}]
                env:
                  MCP_TEST_SOURCE: the registry
            {extra}
            """), Ct);

    private void ScriptToolThenAnswer(string tool, string arguments) => Server.Reply = FakeModelServer.CallToolThenAnswer(tool, arguments);

    private string ToolResultSentToModel() => Server.LastToolResult();

    [Fact]
    public async Task RunAsync_PresetWithStdioMcpServer_AgentCallsItsToolAndTheModelGetsTheResult()
    {
        await WritePresetAsync("mcp-agent");
        ScriptToolThenAnswer("lookup_company", """{"name":"Acme"}""");

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "mcp-agent", Query = "Tell me about Acme." }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var offered = Server.Requests.First().Json["tools"]!.AsArray().Select(t => t!["function"]!["name"]!.GetValue<string>()).ToArray();
        Assert.Contains("lookup_company", offered);
        Assert.Equal("Acme: founded 1998, 1,200 employees, headquarters in Lyon (test data from the registry).", ToolResultSentToModel());
        var call = Assert.Single(response.ToolCalls);
        Assert.Equal(("lookup_company", "companies", null), (call.Name, call.Server, call.Error));
        Assert.Contains("founded 1998", call.ResultPreview, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_McpServerDiesMidCall_ModelIsToldWhichServerStoppedAndTheNextRunRestartsIt()
    {
        await WritePresetAsync("mcp-agent");
        ScriptToolThenAnswer("crash", "{}");
        var clock = Stopwatch.StartNew();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "mcp-agent", Query = "Crash it." }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"the run waited {clock.Elapsed} for a dead server");
        var call = Assert.Single(response.ToolCalls);
        Assert.Contains("MCP server 'companies' stopped while running crash", call.Error, StringComparison.Ordinal);
        Assert.Contains("MCP server 'companies' stopped", ToolResultSentToModel(), StringComparison.Ordinal);

        ScriptToolThenAnswer("lookup_company", """{"name":"Acme"}""");
        var next = await Engine.Runner.RunAsync(new RunRequest { Preset = "mcp-agent", Query = "Tell me about Acme." }, cancellationToken: Ct);
        Assert.Null(Assert.Single(next.ToolCalls).Error);
    }

    [Fact]
    public async Task RunAsync_McpServerFailsToStart_RunGoesOnWithoutItsToolsAndSaysWhich()
    {
        await WritePresetAsync("mcp-broken", extraArgs: ", \"--fail-start\"");
        Server.Reply = _ => new FakeReply { Chunks = ["Answer without tools."] };
        var notes = new List<string>();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "mcp-broken", Query = "Hi" }, p => { notes.Add(p.Message); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Null(Server.Requests.Single().Json["tools"]);
        var note = Assert.Single(notes, n => n.Contains("MCP server 'companies' could not start", StringComparison.Ordinal));
        Assert.Contains("licence file missing", note, StringComparison.Ordinal);
        Assert.Contains("Its tools are not available in this run.", note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ToolNeedsApprovalAndNobodyToAsk_IsDeniedAndTheModelIsTold()
    {
        await WritePresetAsync("guarded", extra: "require_approval: [lookup_company]");
        ScriptToolThenAnswer("lookup_company", """{"name":"Acme"}""");

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "guarded", Query = "Tell me about Acme." }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var call = Assert.Single(response.ToolCalls);
        Assert.Equal("denied", call.Approval);
        Assert.Contains("was denied", ToolResultSentToModel(), StringComparison.Ordinal);
        Assert.DoesNotContain("founded 1998", ToolResultSentToModel(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RunAsync_ToolNeedsApproval_AsksWithNameAndArgumentsAndFollowsTheAnswer(bool approve)
    {
        await WritePresetAsync("guarded", extra: "require_approval: [lookup_company]");
        ScriptToolThenAnswer("lookup_company", """{"name":"Acme"}""");
        var approver = new ScriptedApprover(approve);
        var announced = new List<ToolApprovalRequest>();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "guarded", Query = "Tell me about Acme.", Approver = approver },
            p => { if (p.Approval is { } a) { announced.Add(a); } return ValueTask.CompletedTask; }, Ct);

        var asked = Assert.Single(approver.Asked);
        Assert.Equal(("lookup_company", "companies"), (asked.Name, asked.Server));
        Assert.Contains("Acme", asked.Arguments, StringComparison.Ordinal);
        Assert.Equal(asked, Assert.Single(announced));
        Assert.Equal(approve ? "approved" : "denied", Assert.Single(response.ToolCalls).Approval);
        Assert.Equal(approve, ToolResultSentToModel().Contains("founded 1998", StringComparison.Ordinal));
    }

    private sealed class ScriptedApprover(bool answer) : IToolApprover
    {
        public List<ToolApprovalRequest> Asked { get; } = [];

        public ValueTask<bool> ApproveAsync(ToolApprovalRequest request, CancellationToken cancellationToken)
        {
            Asked.Add(request);
            return ValueTask.FromResult(answer);
        }
    }
}

/// <summary>Keys for MCP servers come from the environment, not the preset file.</summary>
public sealed class McpEnvironmentTests
{
    [Fact]
    public void Expand_VariableSetOrNot_SubstitutesOrNamesTheMissingVariable()
    {
        Environment.SetEnvironmentVariable("STEWARD_TEST_MCP_TOKEN", "t0k3n");
        Assert.Equal("Bearer t0k3n", Steward.Tools.Mcp.McpServerPool.Expand("tickets", "headers", "Authorization", "Bearer ${STEWARD_TEST_MCP_TOKEN}"));

        var ex = Assert.Throws<McpToolException>(() => Steward.Tools.Mcp.McpServerPool.Expand("tickets", "headers", "Authorization", "Bearer ${STEWARD_TEST_MCP_MISSING}"));
        Assert.Equal("MCP server 'tickets' could not start: its headers 'Authorization' uses ${STEWARD_TEST_MCP_MISSING}, which is not set in the environment.", ex.Message);
    }
}

