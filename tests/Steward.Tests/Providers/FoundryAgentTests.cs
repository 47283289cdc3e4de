using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Providers.Foundry;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Providers;

/// <summary>
/// The <c>foundry-agent</c> provider through the engine's real path (runner, governed calls, the OpenAI SDK's Responses
/// client) against a fake Foundry project speaking the agents, conversations and Responses JSON.
/// </summary>
public sealed class FoundryAgentTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FakeFoundryProject _project = null!;
    private TestEngine _engine = null!;

    public async ValueTask InitializeAsync()
    {
        _project = await FakeFoundryProject.StartAsync();
        _engine = await Start(FakeFoundryProject.Key);
    }

    private Task<TestEngine> Start(string key, string? folder = null) => TestEngine.StartAsync(_project.Models.OpenAIUrl, s =>
    {
        s["Steward:DefaultProvider"] = "foundry";
        s["Steward:Providers:foundry:Kind"] = "foundry-agent";
        s["Steward:Providers:foundry:Endpoint"] = _project.Endpoint;
        s["Steward:Providers:foundry:ApiKey"] = key;
        s["Steward:Providers:foundry:Model"] = "gpt-4.1-mini";
        s["Steward:Providers:foundry:MaxRetries"] = "0";
    }, folder: folder);

    [Fact]
    public async Task RunAsync_TwoTurnSession_RunsTheAgentAndSendsItsConversationOnTurnTwo()
    {
        _project.Models.Reply = _ => new FakeReply { InputTokens = 1_000, CachedInputTokens = 200, OutputTokens = 100, ReasoningTokens = 20 };

        var first = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hello?" }, cancellationToken: Ct);
        var second = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "And again?", SessionId = first.SessionId }, cancellationToken: Ct);

        Assert.Equal((RunStatus.Completed, RunStatus.Completed), (first.Status, second.Status));
        var version = Assert.Single(_project.Versions("assistant"));
        Assert.Equal("prompt", version["definition"]!["kind"]!.GetValue<string>());
        Assert.Equal("You are a test assistant. Answer briefly.", version["definition"]!["instructions"]!.GetValue<string>());
        Assert.NotNull(version["metadata"]![FoundryAgentDefinition.HashKey]);

        var (turn1, turn2) = (_project.Runs[0].Json, _project.Runs[1].Json);
        foreach (var turn in new[] { turn1, turn2 })
        {
            Assert.Equal("agent_reference", turn["agent_reference"]!["type"]!.GetValue<string>());
            Assert.Equal(("assistant", "1"), (turn["agent_reference"]!["name"]!.GetValue<string>(), turn["agent_reference"]!["version"]!.GetValue<string>()));
            Assert.Null(turn["instructions"]); // the agent holds them, and its model
            Assert.Null(turn["model"]);
            Assert.NotNull(turn["max_output_tokens"]); // the budget's cap is still sent
        }

        var conversation = ConversationOf(turn1);
        Assert.StartsWith("conv_", conversation, StringComparison.Ordinal);
        Assert.Equal(conversation, ConversationOf(turn2));
        var input = turn2["input"]!.AsArray();
        Assert.Single(input); // only the new question: the conversation holds the first turn
        Assert.Contains("And again?", input[0]!.ToJsonString(), StringComparison.Ordinal);

        // Usage with cached and reasoning tokens, priced from the catalog (gpt-4.1-mini is priced).
        Assert.Equal((1_000, 200, 100, 20), (second.Usage.InputTokens, second.Usage.CachedInputTokens, second.Usage.OutputTokens, second.Usage.ReasoningTokens));
        Assert.True(second.Cost.Usd > 0m, "a Foundry run on a priced model costs money");
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(conversation, (await db.Sessions.SingleAsync(s => s.Id == first.SessionId, Ct)).ProviderConversationId);
        Assert.Equal(1, _project.VersionsCreated);
    }

    [Fact]
    public async Task RunAsync_WebSearchPreset_AgentHasHostedSearchAndItsUrlCitationsAreStored()
    {
        await File.WriteAllTextAsync(Path.Combine(_engine.AgentsFolder, "researcher.yaml"), TestEngine.Preset("researcher", "enable_web_search: true"), Ct);
        const string Answer = "Per the Global EV Outlook, sales grew.";
        _project.Models.Reply = _ => new FakeReply
        {
            Chunks = [Answer],
            HostedSearch = ("ev sales", [("https://www.iea.org/reports/global-ev-outlook-2024", "Global EV Outlook")]),
        };

        var response = await _engine.Runner.RunAsync(new RunRequest { Preset = "researcher", Query = "EV sales?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var tool = Assert.Single(Assert.Single(_project.Versions("researcher"))["definition"]!["tools"]!.AsArray())!;
        Assert.Equal("web_search_preview", tool["type"]!.GetValue<string>());
        Assert.Null(_project.Runs.Single().Json["tools"]);
        var citation = Assert.Single(response.Citations);
        Assert.Equal(("https://www.iea.org/reports/global-ev-outlook-2024", "Global EV Outlook"), (citation.Url, citation.Title));
        await using var db = await _engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(1, await db.Citations.CountAsync(c => c.RunId == response.RunId, Ct));
    }

    [Fact]
    public async Task RunAsync_ProjectRejectsTheKey_FailsWithTheOneLineCredentialsMessage()
    {
        await _engine.DisposeAsync();
        _engine = await Start("wrong-key");

        var response = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Contains("rejected the credentials (HTTP 401", response.Error!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-key", response.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', response.Error.Message);
        Assert.Empty(_project.Runs);
    }

    [Fact]
    public async Task RunAsync_ProjectThrottles_FailsWithTheRateLimitMessageAndItsRetryAfter()
    {
        _project.ThrottleRetryAfterSeconds = 7;

        var response = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal("Provider 'foundry' (foundry-agent) is rate-limiting requests (HTTP 429, retry after 7 s). Wait and retry, or raise the quota.", response.Error!.Message);
    }

    [Fact]
    public async Task RunAsync_VersionDeletedInThePortal_FailsOnceWith404ThenTheNextRunRecreatesIt()
    {
        Assert.Equal(RunStatus.Completed, (await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct)).Status);
        _project.DeleteByHand("assistant", "1");

        var failed = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Again" }, cancellationToken: Ct);
        var recovered = await _engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Once more" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Contains("(HTTP 404", failed.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Completed, recovered.Status);
        Assert.Equal("2", Assert.Single(_project.Versions("assistant"))["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetResponseAsync_AgentCallWithoutStreaming_RunsTheAgentThroughTheGovernedClient()
    {
        var preset = _engine.Get<PresetCatalog>().Get("assistant");
        var provider = _engine.Get<Steward.Providers.ProviderCatalog>().Resolve(null, null);
        using var client = _engine.Get<Steward.Providers.ChatClientFactory>().Create(provider);
        var scope = new Steward.Calls.ModelCallScope(Steward.Calls.ModelCallPurpose.Agent) { Preset = preset };

        var response = await client.GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Hi")], scope.ApplyTo(null), Ct);

        Assert.Equal("Hello from the fake model.", response.Text);
        var sent = Assert.Single(_project.Runs).Json;
        Assert.Null(sent["stream"]);
        Assert.Equal("assistant", sent["agent_reference"]!["name"]!.GetValue<string>());
        Assert.Null(sent["conversation"]); // no session: no conversation
        Assert.Single(scope.Calls);
        Assert.True(scope.TotalCost.Usd > 0m);
    }

    [Fact]
    public async Task GetResponseAsync_JudgeCall_GoesToTheDeploymentWithoutAnAgent()
    {
        var provider = _engine.Get<Steward.Providers.ProviderCatalog>().Resolve(null, null);
        using var client = _engine.Get<Steward.Providers.ChatClientFactory>().Create(provider);
        var scope = new Steward.Calls.ModelCallScope(Steward.Calls.ModelCallPurpose.Judge) { Preset = _engine.Get<PresetCatalog>().Get("assistant") };

        await client.GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Score this")], scope.ApplyTo(null), Ct);

        var sent = Assert.Single(_project.Runs).Json;
        Assert.Null(sent["agent_reference"]);
        Assert.Equal("gpt-4.1-mini", sent["model"]!.GetValue<string>());
        Assert.Empty(_project.Versions("assistant"));
    }

    private static string ConversationOf(JsonNode request) =>
        request["conversation"] switch
        {
            JsonValue id => id.GetValue<string>(),
            JsonObject o => o["id"]!.GetValue<string>(),
            _ => throw new Xunit.Sdk.XunitException("no conversation in " + request.ToJsonString()),
        };

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        await _project.DisposeAsync();
    }
}
