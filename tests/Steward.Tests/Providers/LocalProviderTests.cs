using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>The embedded engine as the <c>local</c> provider, on a real GGUF model.</summary>
public sealed class LocalProviderTests
{
    [Fact]
    public async Task RunAsync_LocalProviderWithGgufPath_CompletesWithExactUsageAndSelfHostedCost()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:Providers:local:Kind"] = "local";
            s["Steward:Providers:local:Model"] = model;
        });
        var deltas = new List<string>();

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once upon a time", MaxOutputTokens = 12 },
            p => { if (p.TextDelta is { } d) { deltas.Add(d); } return ValueTask.CompletedTask; }, TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal("local", response.Provider);
        Assert.InRange(response.Usage.OutputTokens, 1, 12);
        Assert.True(response.Usage.InputTokens > 5);
        Assert.NotEmpty(deltas);
        Assert.Equal(string.Concat(deltas), response.Text);
        Assert.Equal(new RunCost(0m, SelfHosted: true), response.Cost);
    }

    [Fact]
    public async Task ModelsRun_RawGreedy_PrintsLlamaCppContinuation()
    {
        var model = TestModels.Require("stories260K.gguf");

        var (exit, stdout, _) = await CliProcess.RunAsync(new Dictionary<string, string>(),
            "models", "run", model, "Once upon a time", "--raw", "--temperature", "0", "--max-tokens", "32");

        Assert.Equal(0, exit);
        Assert.Equal(", there was a little girl named Lily. She loved to play outside in the park. One day, she saw", stdout.Trim());
    }

    [Fact]
    public async Task Ask_NoModelDownloaded_SaysHowToPullOrConfigure()
    {
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:LocalModels:ModelsDirectory"] = Path.Combine(Path.GetTempPath(), "steward-empty-models-" + Guid.NewGuid());
        });

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("provider_not_configured", response.Error!.Code);
        Assert.Contains("models pull smollm2-360m", response.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ParallelRequestsOutOfRange_FailsNamingTheSetting()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:Providers:local:Kind"] = "local";
            s["Steward:Providers:local:Model"] = model;
            s["Steward:LocalModels:ParallelRequests"] = "0";
        });

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("provider_not_configured", response.Error!.Code);
        Assert.Contains("Steward:LocalModels:ParallelRequests", response.Error.Message, StringComparison.Ordinal);
    }
}
