using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;
using Steward.Telemetry;
using Steward.Tests.TestSupport;
using Steward.Tools.Corpus;

namespace Steward.Tests.Tools;

/// <summary>
/// <c>mode: always</c> for models that cannot call tools: the embedded engine on stories260K (a 260K-parameter story
/// model) gets the corpus's numbered sources in its prompt, and the run stores them as citations.
/// </summary>
public sealed class SearchFirstTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_ModeAlwaysOnTheEmbeddedEngine_PutsTheSourcesInThePromptAndStoresThemAsCitations()
    {
        var model = TestModels.Require("stories260K.gguf");
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", s =>
        {
            s["Steward:DefaultProvider"] = "local";
            s["Steward:Providers:local:Kind"] = "local";
            s["Steward:Providers:local:Model"] = model;
            s["Steward:Telemetry:CaptureMessageContent"] = "true";
        });
        var notes = Path.Combine(engine.Folder, "notes");
        Directory.CreateDirectory(notes);
        await File.WriteAllTextAsync(Path.Combine(notes, "lily.md"), "---\ntitle: Lily and the park\nsource: https://stories.evdata.org/lily\n---\nLily loved to play in the park with her dog.", Ct);
        await File.WriteAllTextAsync(Path.Combine(notes, "ships.md"), "# Ships\nContainer ships carry freight across oceans.", Ct);
        await engine.Get<CorpusStore>().AddAsync([notes], Ct);
        await File.WriteAllTextAsync(Path.Combine(engine.AgentsFolder, "teller.yaml"), TestEngine.Preset("teller", """
            web_search:
              mode: always
            max_output_tokens: 16
            temperature: 0
            """), Ct);

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "teller", Query = "Where did Lily play?" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var citation = Assert.Single(response.Citations);
        Assert.Equal((1, "https://stories.evdata.org/lily", "Lily and the park", "corpus"), (citation.Number, citation.Url, citation.Title, citation.Source));
        var search = Assert.Single(response.ToolCalls);
        Assert.Equal(("web_search", true, null), (search.Name, search.Completed, search.Error));
        Assert.Contains("Where did Lily play?", search.Arguments, StringComparison.Ordinal);

        await using (var db = await engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct))
        {
            Assert.Equal("https://stories.evdata.org/lily", (await db.Citations.SingleAsync(c => c.RunId == response.RunId, Ct)).Url);
            Assert.Equal("web_search", (await db.ToolCalls.SingleAsync(c => c.RunId == response.RunId, Ct)).Name);
            // The conversation keeps the question as asked, not the prompt with the sources.
            Assert.Equal("Where did Lily play?", (await db.Messages.FirstAsync(m => m.RunId == response.RunId && m.Role == "user", Ct)).Content);
        }

        // What the model was sent (the chat span's input, captured because content capture is on) holds the sources.
        var store = engine.Get<TraceStore>();
        await store.FlushAsync(Ct);
        var trace = await store.GetRunTraceAsync(response.RunId, Ct);
        var chat = Assert.Single(trace.Spans, s => s.Span.Name.StartsWith("chat ", StringComparison.Ordinal));
        var input = chat.Span["gen_ai.input.messages"]?.ToString() ?? "";
        Assert.Contains("[1] Lily and the park", input, StringComparison.Ordinal);
        Assert.Contains("https://stories.evdata.org/lily", input, StringComparison.Ordinal);
        Assert.Contains("Question: Where did Lily play?", input, StringComparison.Ordinal);
        Assert.DoesNotContain("Container ships", input, StringComparison.Ordinal);
    }
}
