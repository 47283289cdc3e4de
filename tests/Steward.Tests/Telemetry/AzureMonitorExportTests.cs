using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

/// <summary>
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> alone turns on the Azure Monitor exporter; pointed (by the connection
/// string's <c>IngestionEndpoint</c>) at a local ingestion endpoint, a real run arrives as Application Insights telemetry.
/// </summary>
[Collection(SerialTelemetryTests.Name)]
public sealed class AzureMonitorExportTests : IAsyncLifetime
{
    private FakeModelServer _model = null!;
    private AppInsightsReceiver _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _model = await FakeModelServer.StartAsync();
        _receiver = await AppInsightsReceiver.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _model.DisposeAsync();
    }

    [Fact]
    public async Task RealRun_WithConnectionString_SendsDependenciesWithModelTokensAndCost_LogsAndTokenMetrics()
    {
        await using var engine = await TestEngine.StartAsync(_model.OpenAIUrl, s =>
        {
            s["APPLICATIONINSIGHTS_CONNECTION_STRING"] = _receiver.ConnectionString;
            s["Steward:Pricing:Models:fake-model:Input"] = "2";
            s["Steward:Pricing:Models:fake-model:CachedInput"] = "1";
            s["Steward:Pricing:Models:fake-model:Output"] = "8";
        }, services => services.AddLogging(l => l.SetMinimumLevel(LogLevel.Information)));

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello?" }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(RunStatus.Completed, response.Status);
        engine.Get<TracerProvider>().ForceFlush(10_000);
        engine.Get<MeterProvider>().ForceFlush(10_000);
        engine.Get<LoggerProvider>().ForceFlush(10_000);

        static JsonObject? Props(JsonObject item) => item["data"]?["baseData"]?["properties"] as JsonObject;
        static string? Type(JsonObject item) => item["data"]?["baseType"]?.GetValue<string>();
        bool HasRunAndChat(IReadOnlyList<JsonObject> items) =>
            items.Any(i => Props(i)?["steward.cost.usd"] is not null) && items.Any(i => Props(i)?["gen_ai.request.model"] is not null)
            && items.Any(i => Type(i) == "MetricData") && items.Any(i => Type(i) == "MessageData" && i.ToJsonString().Contains("Created agent for preset", StringComparison.Ordinal));
        var items = await _receiver.WaitAsync(HasRunAndChat, TimeSpan.FromSeconds(20));

        Assert.All(items, i => Assert.Equal(AppInsightsReceiver.InstrumentationKey, i["iKey"]!.GetValue<string>()));
        var spans = items.Where(i => Type(i) is "RequestData" or "RemoteDependencyData").ToList();
        Assert.All(spans, s => Assert.Equal(response.TraceId, s["tags"]!["ai.operation.id"]!.GetValue<string>()));

        // The run: its cost, tokens and preset. (12 - 4) × $2 + 4 × $1 + 7 × $8 per million tokens.
        var run = Assert.Single(spans, s => Props(s)?["steward.run.id"]?.GetValue<string>() == response.RunId.ToString());
        var runProps = Props(run)!;
        Assert.Equal(76e-6, double.Parse(runProps["steward.cost.usd"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal("12", runProps["gen_ai.usage.input_tokens"]!.GetValue<string>());
        Assert.Equal("7", runProps["gen_ai.usage.output_tokens"]!.GetValue<string>());
        Assert.Equal("assistant", runProps["steward.preset"]!.GetValue<string>());

        // The model call: a dependency with the model and its tokens.
        var chat = Assert.Single(spans, s => Props(s)?["gen_ai.operation.name"]?.GetValue<string>() == "chat");
        Assert.Equal("RemoteDependencyData", Type(chat));
        Assert.Equal("fake-model", Props(chat)!["gen_ai.request.model"]!.GetValue<string>());
        Assert.Equal("12", Props(chat)!["gen_ai.usage.input_tokens"]!.GetValue<string>());

        // The run's logs arrive as messages, formatted, of the same operation (the agent created for the preset, at Information).
        var created = Assert.Single(items, i => Type(i) == "MessageData"
            && i["data"]!["baseData"]!["message"]!.GetValue<string>().StartsWith("Created agent for preset assistant", StringComparison.Ordinal));
        Assert.Equal(response.TraceId, created["tags"]?["ai.operation.id"]?.GetValue<string>());

        // The GenAI token metric arrives as metric telemetry.
        Assert.Contains(items, i => Type(i) == "MetricData" && i.ToJsonString().Contains("gen_ai.client.token.usage", StringComparison.Ordinal));
    }
}
