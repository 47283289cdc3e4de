using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Telemetry;

[Collection(SerialTelemetryTests.Name)]
public sealed class RunMetricsTests : EngineTest
{
    private readonly List<Metric> _exported = [];

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Pricing:Models:fake-model:Input"] = "2";
        settings["Steward:Pricing:Models:fake-model:CachedInput"] = "1";
        settings["Steward:Pricing:Models:fake-model:Output"] = "8";
    }

    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddOpenTelemetry().WithMetrics(m => m.AddInMemoryExporter(_exported));

    private List<(Metric Metric, MetricPoint Point)> Points(string name, params (string Key, object Value)[] tags)
    {
        var points = new List<(Metric, MetricPoint)>();
        foreach (var metric in _exported.Where(m => m.Name == name))
        {
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                var pointTags = new Dictionary<string, object?>();
                foreach (var tag in point.Tags)
                {
                    pointTags[tag.Key] = tag.Value;
                }

                if (tags.All(t => Equals(pointTags.GetValueOrDefault(t.Key), t.Value)))
                {
                    points.Add((metric, point));
                }
            }
        }

        return points;
    }

    private long LongSum(string name, params (string, object)[] tags) => Points(name, tags).Sum(p => p.Point.GetSumLong());

    [Fact]
    public async Task KnownRuns_RecordTokensByTypeCostDurationsOutcomesAndBudgetUtilization()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "metered.yaml"), TestEngine.Preset("metered"), ct);
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "capped.yaml"), TestEngine.Preset("capped", "budget:\n  max_tokens_per_request: 5"), ct);
        Assert.Equal(RunStatus.Completed, (await Engine.Runner.RunAsync(new RunRequest { Preset = "metered", Query = "one" }, cancellationToken: ct)).Status);
        Assert.Equal(RunStatus.Completed, (await Engine.Runner.RunAsync(new RunRequest { Preset = "metered", Query = "two" }, cancellationToken: ct)).Status);
        Assert.Equal(RunStatus.BudgetExceeded, (await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "three" }, cancellationToken: ct)).Status);
        Server.Reply = _ => new FakeReply { Error = (500, """{"error":{"message":"boom","type":"server_error"}}""") };
        Assert.Equal(RunStatus.Failed, (await Engine.Runner.RunAsync(new RunRequest { Preset = "metered", Query = "four" }, cancellationToken: ct)).Status);

        _exported.Clear();
        Assert.True(Engine.Get<MeterProvider>().ForceFlush(10_000));

        var agent = ("gen_ai.agent.name", (object)"metered");
        // FakeModelServer reports 12 input (4 cached) and 7 output (2 reasoning) tokens per run.
        Assert.Equal(24, LongSum("steward.tokens", agent, ("gen_ai.token.type", "input")));
        Assert.Equal(8, LongSum("steward.tokens", agent, ("gen_ai.token.type", "cached_input")));
        Assert.Equal(14, LongSum("steward.tokens", agent, ("gen_ai.token.type", "output")));
        Assert.Equal(4, LongSum("steward.tokens", agent, ("gen_ai.token.type", "reasoning")));
        Assert.Equal(2 * 76e-6, Points("steward.cost", agent, ("gen_ai.request.model", "fake-model")).Sum(p => p.Point.GetSumDouble()), 12);

        Assert.Equal(2, LongSum("steward.runs", agent, ("steward.run.outcome", "Completed")));
        Assert.Equal(1, LongSum("steward.runs", agent, ("steward.run.outcome", "Failed")));
        Assert.Equal(1, LongSum("steward.runs", ("gen_ai.agent.name", "capped"), ("steward.run.outcome", "BudgetExceeded")));

        var durations = Points("steward.run.duration", agent, ("steward.run.outcome", "Completed"));
        Assert.Equal(2, durations.Sum(p => p.Point.GetHistogramCount()));
        Assert.True(durations.Sum(p => p.Point.GetHistogramSum()) > 0);
        Assert.Equal(2, Points("steward.run.time_to_first_token", agent).Sum(p => p.Point.GetHistogramCount()));

        // The refused request needed more than the whole limit.
        var utilization = Assert.Single(Points("steward.budget.utilization"));
        Assert.Equal(1, utilization.Point.GetHistogramCount());
        Assert.True(utilization.Point.GetHistogramSum() > 1);

        // Microsoft.Extensions.AI's own GenAI metrics flow through the same provider.
        Assert.NotEmpty(Points("gen_ai.client.token.usage"));
    }
}
