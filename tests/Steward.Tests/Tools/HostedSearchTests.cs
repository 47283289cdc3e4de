using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Tools;

/// <summary>
/// <c>backend: hosted</c>: the provider's own web search through the OpenAI Responses API, with the real OpenAI SDK
/// (through Microsoft.Extensions.AI's Responses client) against a fake server speaking its SSE events: the request
/// carries the <c>web_search</c> tool with its settings, and the <c>url_citation</c> annotations become the run's
/// citations, with their positions in the answer.
/// </summary>
public sealed class HostedSearchTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Providers:fake:Kind"] = "openai";
        settings["Steward:Providers:fake:Api"] = "responses";
        settings["Steward:WebSearch:AllowedDomains:0"] = "iea.org";
        settings["Steward:WebSearch:SearchContextSize"] = "high";
        settings["Steward:WebSearch:UserLocation:Country"] = "GB";
        settings["Steward:WebSearch:UserLocation:City"] = "London";
    }

    [Fact]
    public async Task RunAsync_HostedBackendOnResponses_SendsTheWebSearchToolAndStoresUrlCitationsWithTheirPositions()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "hosted.yaml"), TestEngine.Preset("hosted", "web_search:\n  backend: hosted\nevaluators: [citations]"), Ct);
        const string Answer = "Sales reached 14 million per the Global EV Outlook; chargers grew per the Charging report.";
        Server.Reply = _ => new FakeReply
        {
            Chunks = [Answer[..40], Answer[40..]],
            HostedSearch = ("ev sales 2023", [("https://www.iea.org/reports/global-ev-outlook-2024", "Global EV Outlook"), ("https://www.iea.org/charging", "Charging report")]),
        };

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "hosted", Query = "How many EVs were sold in 2023?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var sent = Assert.Single(Server.Requests);
        Assert.Equal("/v1/responses", sent.Path);
        var tool = Assert.Single(sent.Json["tools"]!.AsArray())!;
        Assert.Equal("web_search", tool["type"]!.GetValue<string>());
        Assert.Equal("high", tool["search_context_size"]!.GetValue<string>());
        Assert.Equal("GB", tool["user_location"]!["country"]!.GetValue<string>());
        Assert.Equal("iea.org", tool["filters"]!["allowed_domains"]![0]!.GetValue<string>());

        Assert.Equal(["https://www.iea.org/reports/global-ev-outlook-2024", "https://www.iea.org/charging"], response.Citations.Select(c => c.Url));
        var first = response.Citations[0];
        Assert.Equal(("Global EV Outlook", "hosted"), (first.Title, first.Source));
        Assert.Equal(Answer.IndexOf("Global EV Outlook", StringComparison.Ordinal), first.StartIndex);
        Assert.Equal(first.StartIndex + "Global EV Outlook".Length, first.EndIndex);
        var search = Assert.Single(response.ToolCalls);
        Assert.Equal(("web_search", "hosted"), (search.Name, search.Server));
        Assert.Contains("ev sales 2023", search.Arguments, StringComparison.Ordinal);

        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        Assert.Equal(2, await db.Citations.CountAsync(c => c.RunId == response.RunId, Ct));
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, Ct);
        Assert.NotNull(quality);
    }

    [Fact]
    public async Task RunAsync_HostedBackendOnAProviderWithoutIt_SaysSoAndSearchesTheCorpus()
    {
        await Engine.DisposeAsync();
        Engine = await TestEngine.StartAsync(Server.OpenAIUrl, s => Configure(s));
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "hosted.yaml"), TestEngine.Preset("hosted", "web_search:\n  backend: hosted\nprovider: plain"), Ct);
        await Engine.DisposeAsync();
        Engine = await TestEngine.StartAsync(Server.OpenAIUrl, s =>
        {
            Configure(s);
            s["Steward:Providers:plain:Kind"] = "openai-compatible";
            s["Steward:Providers:plain:Endpoint"] = Server.OpenAIUrl;
            s["Steward:Providers:plain:Model"] = "fake-model";
        }, folder: Engine.Folder);
        var notes = new List<string>();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "hosted", Query = "Hi" }, p => { notes.Add(p.Message); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Contains(notes, n => n.Contains("Hosted web search needs a provider on the Responses API", StringComparison.Ordinal));
        Assert.Equal("web_search", Server.Requests.Last().Json["tools"]![0]!["function"]!["name"]!.GetValue<string>());
    }
}
