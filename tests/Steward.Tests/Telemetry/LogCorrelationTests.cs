using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

public sealed class LogCorrelationTests : EngineTest
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddLogging(l => l.AddFakeLogging().SetMinimumLevel(LogLevel.Information));

    [Fact]
    public async Task LogDuringRun_CarriesTheRunsTraceAndSpanIds()
    {
        Server.Reply = _ => new FakeReply { Error = (500, """{"error":{"message":"boom","type":"server_error"}}""") };
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "fails" }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(RunStatus.Failed, response.Status);

        var failed = Assert.Single(Engine.Get<FakeLogCollector>().GetSnapshot(), r => r.Id.Id == 1301 && r.Message.Contains(response.RunId.ToString(), StringComparison.Ordinal));
        var scope = failed.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>().SelectMany(s => s).ToDictionary(kv => kv.Key, kv => kv.Value?.ToString());
        Assert.Equal(response.TraceId, scope["TraceId"]);
        Assert.Matches("^[0-9a-f]{16}$", scope["SpanId"]);
    }
}
