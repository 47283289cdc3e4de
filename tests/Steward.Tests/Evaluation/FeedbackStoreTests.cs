using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Evaluation;
using Steward.Sessions;
using Steward.Tests.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Evaluation;

public sealed class FeedbackStoreTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<AgentResponse> AskAsync() =>
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Rate me" }, cancellationToken: Ct);

    [Fact]
    public async Task GiveAsync_AgainOnTheSameRun_ReplacesTheEarlierRating()
    {
        var run = await AskAsync();
        var store = Engine.Get<FeedbackStore>();

        await store.GiveAsync(run.RunId, FeedbackRating.Up, "  Clear and short.  ", "web", Ct);
        await store.GiveAsync(run.RunId, FeedbackRating.Down, "On reflection, wrong.", "cli", Ct);

        var stored = Assert.Single(await store.LoadAsync([run.RunId], Ct)).Value;
        Assert.Equal(FeedbackRating.Down, stored.Rating);
        Assert.Equal("On reflection, wrong.", stored.Comment);
        Assert.Equal("cli", stored.Source);
        Assert.Equal(0, stored.Score);
        var session = await Engine.Get<SessionStore>().GetAsync(run.SessionId!.Value, Ct);
        Assert.Equal(FeedbackRating.Down, Assert.Single(session.Runs).Feedback?.Rating);
        Assert.Equal(run.Text, session.Messages[^1].Content);
    }

    [Fact]
    public async Task GiveAsync_UnknownRunOrTooLongComment_IsRefusedAndNothingStored()
    {
        var run = await AskAsync();
        var store = Engine.Get<FeedbackStore>();

        await Assert.ThrowsAsync<SessionNotFoundException>(() => store.GiveAsync(Guid.NewGuid(), FeedbackRating.Up, null, "cli", Ct));
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => store.GiveAsync(run.RunId, FeedbackRating.Up, new string('x', 2001), "cli", Ct));
        Assert.Contains("at most 2,000", tooLong.Message, StringComparison.Ordinal);
        Assert.Empty(await store.LoadAsync([run.RunId], Ct));
    }

    [Fact]
    public async Task AnalyticsFeedback_CountsUpAndDownOfTheFilteredRuns()
    {
        var store = Engine.Get<FeedbackStore>();
        await store.GiveAsync((await AskAsync()).RunId, FeedbackRating.Up, null, "web", Ct);
        await store.GiveAsync((await AskAsync()).RunId, FeedbackRating.Up, null, "web", Ct);
        await store.GiveAsync((await AskAsync()).RunId, FeedbackRating.Down, null, "web", Ct);

        var analytics = Engine.Get<Steward.Analytics.AnalyticsQueries>();
        var all = await analytics.GetFeedbackAsync(new Steward.Costs.CostFilter(), Ct);
        var other = await analytics.GetFeedbackAsync(new Steward.Costs.CostFilter { Agent = "someone_else" }, Ct);

        Assert.Equal((2, 1), (all.Up, all.Down));
        Assert.Equal(66.7, Math.Round(all.PercentUp!.Value, 1));
        Assert.Equal(0, other.Total);
    }

    [Fact]
    public async Task Export_CarriesFeedbackAndImportsItBack()
    {
        var run = await AskAsync();
        await Engine.Get<FeedbackStore>().GiveAsync(run.RunId, FeedbackRating.Up, "Spot on.", "web", Ct);
        var exported = await SessionTestData.ExportJsonAsync(Engine, run.SessionId!.Value);

        var feedback = JsonNode.Parse(exported)!["runs"]![0]!["feedback"]!;
        Assert.Equal("Up", feedback["rating"]!.GetValue<string>());
        Assert.Equal("Spot on.", feedback["comment"]!.GetValue<string>());

        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl);
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(exported));
        await other.Get<SessionExporter>().ImportAsync(input, Ct);
        var imported = Assert.Single(await other.Get<FeedbackStore>().LoadAsync([run.RunId], Ct)).Value;
        Assert.Equal(("Spot on.", FeedbackRating.Up), (imported.Comment, imported.Rating));
    }
}
