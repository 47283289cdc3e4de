using System.Diagnostics;
using System.Text.Json.Nodes;
using Steward.Keys;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Gateway;

/// <summary>
/// The npm <c>openai</c> package (installed in tests/openai-node by <c>.ci/run</c>, or <c>npm ci --prefix tests/openai-node</c>)
/// against the running gateway, from node: chat completions streaming and not, Responses streaming, and its error classes.
/// </summary>
public sealed class NodeOpenAITests : IAsyncLifetime
{
    private GatewayApp _app = null!;

    public async ValueTask InitializeAsync() => _app = await GatewayApp.StartAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<JsonNode> RunAsync(string scenario, string model, ApiKeySpec? key = null)
    {
        var folder = RepositoryRoot.Find() is { } root ? Path.Combine(root, "tests", "openai-node") : null;
        if (folder is null || !File.Exists(Path.Combine(folder, "node_modules", "openai", "package.json")))
        {
            Requirement.Missing("The npm openai package is not installed: run `npm ci --prefix tests/openai-node`.");
        }

        var secret = await _app.CreateKeyAsync(key ?? new ApiKeySpec { Name = scenario });
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder! };
        foreach (var argument in new[] { Path.Combine(folder!, "gateway.mjs"), _app.BaseUrl + "/v1", secret, model, scenario })
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Requirement.Missing("node is not installed (apt-get install -y nodejs).");
            throw;
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.True(process.ExitCode == 0, "node failed: " + await errors);
            return JsonNode.Parse(await output)!;
        }
    }

    [Fact]
    public async Task ChatCompletion_NotStreamed()
    {
        var result = await RunAsync("chat", "assistant");

        Assert.Equal(("Hello from the fake model.", "stop"), (result["text"]!.GetValue<string>(), result["finish"]!.GetValue<string>()));
        Assert.Equal(19, result["usage"]!["total_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task ChatCompletion_Streamed_WithUsage()
    {
        var result = await RunAsync("chat-stream", "fake/fake-model");

        Assert.Equal(("Hello from the fake model.", "stop"), (result["text"]!.GetValue<string>(), result["finish"]!.GetValue<string>()));
        Assert.Equal(12, result["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.True(result["chunks"]!.GetValue<int>() >= 6, "role, four deltas, finish, usage");
    }

    [Fact]
    public async Task Responses_Streamed_TextEventsThenCompleted()
    {
        var result = await RunAsync("responses", "assistant");

        Assert.Equal("Hello from the fake model.", result["text"]!.GetValue<string>());
        Assert.Equal("completed", result["status"]!.GetValue<string>());
        Assert.Contains("response.output_text.delta", result["types"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(19, result["usage"]!["total_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Errors_EachTheSdksOwnClass()
    {
        var result = await RunAsync("errors", "fake/fake-model", new ApiKeySpec { Name = "node-errors", BudgetTokens = 60 });

        Assert.Equal(("AuthenticationError", 401), (result["badKey"]!["class"]!.GetValue<string>(), result["badKey"]!["status"]!.GetValue<int>()));
        Assert.Equal(("NotFoundError", "model_not_found"), (result["unknownModel"]!["class"]!.GetValue<string>(), result["unknownModel"]!["code"]!.GetValue<string>()));
        Assert.Equal(("BadRequestError", "n"), (result["n5"]!["class"]!.GetValue<string>(), result["n5"]!["param"]!.GetValue<string>()));
        Assert.Equal(("RateLimitError", 429), (result["budget"]!["class"]!.GetValue<string>(), result["budget"]!["status"]!.GetValue<int>()));
    }
}
