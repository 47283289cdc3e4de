using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Sessions;
using Steward.Storage;
using Steward.Telemetry;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Tools;

/// <summary>
/// A preset that searches, run through the whole pipeline: a scripted OpenAI-compatible model (the fake server, through
/// the real SDK) calls <c>web_search</c> twice and then answers; the search goes over real HTTP to a fake SearXNG,
/// Brave or Tavily. What is stored, exported, traced and scored is checked.
/// </summary>
public sealed class WebSearchRunTests : EngineTest
{
    private const string BraveKey = "BSAq7Zsecret-brave-key-0042";
    private const string TavilyKey = "tvly-secret-tavily-key-0042";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FakeSearchServer _search = null!;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        _search ??= FakeSearchServer.StartAsync().GetAwaiter().GetResult();
        settings["Steward:WebSearch:SearxngUrl"] = _search.BaseUrl;
        settings["Steward:WebSearch:BraveEndpoint"] = _search.BaseUrl;
        settings["Steward:WebSearch:BraveApiKey"] = BraveKey;
        settings["Steward:WebSearch:TavilyEndpoint"] = _search.BaseUrl;
        settings["Steward:WebSearch:TavilyApiKey"] = TavilyKey;
        settings["Steward:WebSearch:MaxResults"] = "3";
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _search.DisposeAsync();
    }

    private async Task RestartWithAsync(string key, string value)
    {
        await Engine.DisposeAsync();
        Engine = await TestEngine.StartAsync(Server.OpenAIUrl, s =>
        {
            Configure(s);
            s[key] = value;
        });
    }

    private Task WritePresetAsync(string backend) => File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "analyst.yaml"), TestEngine.Preset("analyst", $"""
        web_search:
          backend: {backend}
        evaluators: [citations]
        """), Ct);

    private string ToolResultOfSecondCall() =>
        Server.Requests.ElementAt(1).Json["messages"]!.AsArray().Single(m => m!["role"]!.GetValue<string>() == "tool")!["content"]!.ToString();

    private void ScriptTwoSearchesThenAnswer(string answer)
    {
        Server.Reply = request =>
        {
            var toolResults = request.Json["messages"]!.AsArray().Count(m => m!["role"]!.GetValue<string>() == "tool");
            return toolResults switch
            {
                0 => new FakeReply { Chunks = [], ToolCalls = [("web_search", """{"query":"ev charging europe"}""")] },
                1 => new FakeReply { Chunks = [], ToolCalls = [("web_search", """{"query":"ev charging operators"}""")] },
                _ => new FakeReply { Chunks = [answer] },
            };
        };
    }

    [Theory]
    [InlineData("searxng")]
    [InlineData("brave")]
    [InlineData("tavily")]
    public async Task RunAsync_ModelSearchesTwiceThenAnswers_StoresThreeCallsTwoToolCallsAndTheBackendsUrlsAsCitations(string backend)
    {
        await WritePresetAsync(backend);
        var first = _search.Hits("ev charging europe");
        var second = _search.Hits("ev charging operators");
        ScriptTwoSearchesThenAnswer($"Europe's charging market is growing [1] (see {first[0].Url}); the main operators are listed in [4].");
        var events = new List<RunProgress>();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "analyst", Query = "How big is EV charging in Europe?" },
            p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal(3, response.Calls.Count);
        string[] expected = [.. first.Select(h => h.Url), .. second.Select(h => h.Url)];
        Assert.Equal(expected, response.Citations.Select(c => c.Url));
        Assert.Equal([1, 2, 3, 4, 5, 6], response.Citations.Select(c => c.Number));
        Assert.Equal("ev charging europe — overview", response.Citations[0].Title);
        Assert.All(response.Citations, c => Assert.Equal(backend, c.Source));
        Assert.Equal(response.Text.IndexOf("[1]", StringComparison.Ordinal), response.Citations[0].StartIndex);
        Assert.NotNull(response.Citations[3].StartIndex);

        // The model saw the numbered results of its first search in its second call.
        var secondCall = Server.Requests.ElementAt(1).Json["messages"]!.AsArray().Single(m => m!["role"]!.GetValue<string>() == "tool");
        Assert.Contains("[1] ev charging europe — overview", secondCall!["content"]!.ToString(), StringComparison.Ordinal);
        Assert.Contains(first[0].Url, secondCall["content"]!.ToString(), StringComparison.Ordinal);

        // Live: each tool call is announced when it starts (with its arguments) and when it returns.
        var toolEvents = events.Where(e => e.ToolCall is not null).Select(e => e.ToolCall!).ToList();
        Assert.Equal(4, toolEvents.Count);
        Assert.Equal([false, true, false, true], toolEvents.Select(t => t.Completed));
        Assert.Contains("ev charging europe", toolEvents[0].Arguments, StringComparison.Ordinal);
        Assert.Contains("[1]", toolEvents[1].ResultPreview, StringComparison.Ordinal);

        await using (var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct))
        {
            Assert.Equal(3, await db.ModelCalls.CountAsync(c => c.RunId == response.RunId, Ct));
            var tools = await db.ToolCalls.Where(t => t.RunId == response.RunId).OrderBy(t => t.Sequence).ToListAsync(Ct);
            Assert.Equal(["web_search", "web_search"], tools.Select(t => t.Name));
            Assert.Contains("ev charging operators", tools[1].Arguments, StringComparison.Ordinal);
            Assert.All(tools, t => Assert.Null(t.Error));
            Assert.All(tools, t => Assert.True(t.DurationMs >= 0));
            var stored = await db.Citations.Where(c => c.RunId == response.RunId).OrderBy(c => c.Number).Select(c => c.Url).ToListAsync(Ct);
            Assert.Equal(expected, stored);
        }

        // One execute_tool span per tool call, beside the three chat spans.
        var store = Engine.Get<TraceStore>();
        await store.FlushAsync(Ct);
        var trace = await store.GetRunTraceAsync(response.RunId, Ct);
        var toolSpans = trace.Spans.Where(s => s.Span.Name == "execute_tool web_search").ToList();
        Assert.Equal(2, toolSpans.Count);
        Assert.All(toolSpans, s => Assert.Equal("web_search", s.Span["gen_ai.tool.name"]));
        Assert.Equal(3, trace.Spans.Count(s => s.Span.Name.StartsWith("chat ", StringComparison.Ordinal)));

        // The citations evaluator checks the answer's address against what the search returned: nothing flagged.
        var quality = await Engine.Runner.WaitForQualityAsync(response.RunId, Ct);
        var citations = Assert.Single(quality!.Metrics, m => m.Name == "citations");
        Assert.Equal(1.0, citations.Value);
        Assert.Contains("checked against 6 URL(s)", citations.Reason, StringComparison.Ordinal);

        // And the export carries the tool calls and citations, and imports back with them.
        var exporter = Engine.Get<SessionExporter>();
        var document = await exporter.ExportAsync(response.SessionId!.Value, Ct);
        var run = Assert.Single(document.Runs);
        Assert.Equal(4, document.SchemaVersion);
        Assert.Equal(2, run.ToolCalls.Count);
        Assert.Equal(expected, run.Citations.Select(c => c.Url));
        var json = JsonSerializer.Serialize(document, SessionExporter.JsonOptions);
        Assert.DoesNotContain(BraveKey, json, StringComparison.Ordinal);
        Assert.DoesNotContain(TavilyKey, json, StringComparison.Ordinal);
        await Engine.Sessions.DeleteAsync(response.SessionId.Value, Ct);
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        var imported = await exporter.ImportAsync(stream, Ct);
        var again = await Engine.Sessions.GetAsync(imported, Ct);
        Assert.Equal(expected, Assert.Single(again.Runs).Citations.Select(c => c.Url));
        Assert.Equal(2, again.Runs[0].ToolCalls.Count);
    }

    [Theory]
    [InlineData("brave", "X-Subscription-Token", BraveKey)]
    [InlineData("tavily", "Authorization", "Bearer " + TavilyKey)]
    public async Task RunAsync_KeyedBackend_SendsTheKeyInItsHeaderOnly(string backend, string header, string value)
    {
        await WritePresetAsync(backend);
        ScriptTwoSearchesThenAnswer("Done.");

        await Engine.Runner.RunAsync(new RunRequest { Preset = "analyst", Query = "EV charging?" }, cancellationToken: Ct);

        var request = _search.Requests.First();
        Assert.Equal(value, request.Headers[header]);
        Assert.DoesNotContain(value.Replace("Bearer ", "", StringComparison.Ordinal), request.Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_BackendRejectsTheKey_ModelIsToldTheErrorWithoutTheKeyAndTheRunCompletes()
    {
        await WritePresetAsync("brave");
        _search.FailWith = 401;
        ScriptTwoSearchesThenAnswer("I could not search.");

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "analyst", Query = "EV charging?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var told = ToolResultOfSecondCall();
        Assert.Contains("Brave Search refused the request (401 Unauthorized): check BRAVE_API_KEY", told, StringComparison.Ordinal);
        Assert.All(response.ToolCalls, t => Assert.Contains("BRAVE_API_KEY", t.Error, StringComparison.Ordinal));
        Assert.Empty(response.Citations);
        var everything = JsonSerializer.Serialize(await Engine.Get<SessionExporter>().ExportAsync(response.SessionId!.Value, Ct), SessionExporter.JsonOptions)
            + string.Concat(Server.Requests.Select(r => r.Body));
        Assert.DoesNotContain(BraveKey, everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SearchSlowerThanItsLimit_ModelIsToldItTimedOut()
    {
        await RestartWithAsync("Steward:WebSearch:TimeoutSeconds", "1");
        await WritePresetAsync("searxng");
        _search.Delay = TimeSpan.FromSeconds(5);
        ScriptTwoSearchesThenAnswer("No luck.");

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "analyst", Query = "EV charging?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.All(response.ToolCalls, t => Assert.Contains("did not answer within 1 s", t.Error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_ResultLongerThanTheLimit_IsCutWithANote()
    {
        await RestartWithAsync("Steward:Tools:MaxResultCharacters", "300");
        await WritePresetAsync("searxng");
        _search.Hits = q => [new FakeHit("Long", "https://long.example.org/a", new string('x', 5_000))];
        ScriptTwoSearchesThenAnswer("Done.");

        await Engine.Runner.RunAsync(new RunRequest { Preset = "analyst", Query = "EV charging?" }, cancellationToken: Ct);

        var told = ToolResultOfSecondCall();
        Assert.True(told.Length < 500, $"the model was sent {told.Length} characters");
        Assert.Contains("[cut: the result had", told, StringComparison.Ordinal);
    }
}
