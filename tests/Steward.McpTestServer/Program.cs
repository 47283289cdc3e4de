using System.ComponentModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

// A small MCP server on stdio for Steward's tests: one useful tool, one that kills the server mid-call, and a mode
// that fails at start. `--fail-start` exits before speaking MCP, saying why on standard error.
if (args.Contains("--fail-start"))
{
    await Console.Error.WriteLineAsync("licence file missing: cannot start");
    return 2;
}

var builder = Host.CreateApplicationBuilder(args);
// Standard output carries the protocol; logs go to standard error.
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
builder.Services.AddMcpServer().WithStdioServerTransport().WithTools<CompanyTools>();
await builder.Build().RunAsync();
return 0;

[McpServerToolType]
internal sealed class CompanyTools
{
    [McpServerTool(Name = "lookup_company"), Description("Looks up a company's profile by name.")]
    public static string LookupCompany([Description("The company's name.")] string name) =>
        $"{name}: founded 1998, 1,200 employees, headquarters in Lyon (test data from {Environment.GetEnvironmentVariable("MCP_TEST_SOURCE") ?? "the MCP test server"}).";

    [McpServerTool(Name = "crash"), Description("Crashes the server while running (for tests).")]
    public static string Crash()
    {
        Environment.Exit(3);
        return "unreachable";
    }
}
