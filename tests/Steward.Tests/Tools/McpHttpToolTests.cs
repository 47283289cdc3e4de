using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Tools;

/// <summary>
/// A preset's MCP server over streamable HTTP: an in-test server built on ModelContextProtocol.AspNetCore, behind a
/// bearer token that the preset takes from the environment.
/// </summary>
public sealed class McpHttpToolTests : EngineTest
{
    private const string Token = "mcp-http-test-token-42";
    private WebApplication? _mcp;
    private string _mcpUrl = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        if (_mcp is not null)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        McpServerTool[] tools = [McpServerTool.Create(AIFunctionFactory.Create((string ticket) => $"Ticket {ticket}: open, priority high.", "get_ticket", "Reads a ticket."))];
        builder.Services.AddMcpServer().WithHttpTransport().WithTools(tools);
        var app = builder.Build();
        app.Use(async (HttpContext context, RequestDelegate next) =>
        {
            if (context.Request.Headers.Authorization != "Bearer " + Token)
            {
                context.Response.StatusCode = 401;
                return;
            }

            await next(context);
        });
        app.MapMcp("/mcp");
        app.StartAsync().GetAwaiter().GetResult();
        _mcp = app;
        _mcpUrl = app.Urls.First() + "/mcp";
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_mcp is not null)
        {
            await _mcp.DisposeAsync();
        }
    }

    [Fact]
    public async Task RunAsync_StreamableHttpMcpServerWithAHeaderFromTheEnvironment_AgentCallsItsTool()
    {
        Environment.SetEnvironmentVariable("STEWARD_TEST_TICKETS_TOKEN", Token);
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "support.yaml"), TestEngine.Preset("support", $$"""
            mcp:
              - name: tickets
                url: {{_mcpUrl}}
                headers:
                  Authorization: Bearer ${STEWARD_TEST_TICKETS_TOKEN}
            """), Ct);
        Server.Reply = FakeModelServer.CallToolThenAnswer("get_ticket", """{"ticket":"T-7"}""");

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "support", Query = "Status of T-7?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var call = Assert.Single(response.ToolCalls);
        Assert.Equal(("get_ticket", "tickets", null), (call.Name, call.Server, call.Error));
        Assert.Contains("Ticket T-7: open, priority high.", call.ResultPreview, StringComparison.Ordinal);
        var export = System.Text.Json.JsonSerializer.Serialize(await Engine.Get<Steward.Sessions.SessionExporter>().ExportAsync(response.SessionId!.Value, Ct), Steward.Sessions.SessionExporter.JsonOptions);
        Assert.DoesNotContain(Token, export, StringComparison.Ordinal);
    }
}
