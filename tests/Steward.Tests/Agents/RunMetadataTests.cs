using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Analytics;
using Steward.Costs;
using Steward.Sessions;
using Steward.Tests.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Agents;

/// <summary>Tags and a user id on runs: stored with the run, in its session and exports, filterable and summed by the read models.</summary>
public sealed class RunMetadataTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_TagsAndUser_StoredShownInTheSessionAndExportedLosslessly()
    {
        var response = await Engine.Runner.RunAsync(
            new RunRequest { Preset = "assistant", Query = "Say hello", Tags = [" beta ", "team:search", "beta", ""], UserId = " user-42 " }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var run = Assert.Single((await Engine.Sessions.GetAsync(response.SessionId!.Value, Ct)).Runs);
        Assert.Equal(["beta", "team:search"], run.Tags);
        Assert.Equal("user-42", run.UserId);

        var exported = await SessionTestData.ExportJsonAsync(Engine, response.SessionId.Value);
        var exportedRun = JsonNode.Parse(exported)!["runs"]![0]!;
        Assert.Equal(6, JsonNode.Parse(exported)!["schema_version"]!.GetValue<int>());
        Assert.Equal(["beta", "team:search"], exportedRun["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("user-42", exportedRun["user_id"]!.GetValue<string>());
        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl);
        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(exported)))
        {
            await other.Get<SessionExporter>().ImportAsync(input, Ct);
        }

        var imported = Assert.Single((await other.Sessions.GetAsync(response.SessionId.Value, Ct)).Runs);
        Assert.Equal(run.Tags, imported.Tags);
        Assert.Equal(run.UserId, imported.UserId);
    }

    [Theory]
    [InlineData("a-tag-that-is-far-too-long-to-be-a-tag-because-it-goes-on-and-on-and-on", null, "at most 64")]
    [InlineData("bell\u0007", null, "control character")]
    [InlineData("ok", "user\nname", "control character")]
    public async Task RunAsync_BadTagOrUser_FailsInOneLineAndStoresNothing(string tag, string? user, string expected)
    {
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi", Tags = [tag], UserId = user }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal(RunErrorCodes.InvalidRequest, response.Error!.Code);
        Assert.Contains(expected, response.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', response.Error.Message);
        Assert.Empty(Server.Requests);
        Assert.Empty(await Engine.Sessions.ListAsync(null, 0, 10, Ct));
    }

    [Fact]
    public async Task Search_CostByTagAndUser_SelectAndSumTheTaggedRuns()
    {
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "one", Tags = ["a", "b"], UserId = "ann" }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "two", Tags = ["a"], UserId = "bob" }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "three" }, cancellationToken: Ct);
        var search = Engine.Get<RunSearch>();
        var analytics = Engine.Get<AnalyticsQueries>();

        var taggedA = await search.SearchAsync(new RunQuery { Tag = "a" }, 0, 10, Ct);
        var taggedB = await search.SearchAsync(new RunQuery { Tag = "b" }, 0, 10, Ct);
        var bobs = await search.SearchAsync(new RunQuery { UserId = "bob" }, 0, 10, Ct);
        var byTag = await analytics.GetCostByTagAsync(new CostFilter(), Ct);
        var byUser = await analytics.GetCostByUserAsync(new CostFilter(), Ct);

        Assert.Equal(2, taggedA.Total);
        Assert.Equal("one", Assert.Single(taggedB.Runs).Query);
        Assert.Equal("two", Assert.Single(bobs.Runs).Query);
        Assert.Equal([("a", 2L, 38L), ("b", 1L, 19L)], byTag.Select(t => (t.Key, t.Runs, t.Tokens)).OrderBy(t => t.Key));
        Assert.Equal(["ann", "bob"], byUser.Select(u => u.Key).Order());
        Assert.All(byUser, u => Assert.Equal(1, u.Runs));
    }

    [Theory]
    [MemberData(nameof(TestPostgres.Providers), MemberType = typeof(TestPostgres))]
    public async Task TagsAndUser_OnEitherDatabase_StoredFilteredSummedAndExported(string storage)
    {
        var database = await TestPostgres.DatabaseForAsync(storage);
        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl, s =>
        {
            if (database is not null)
            {
                s["Steward:Storage:Database"] = database;
            }
        });
        var tagged = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "one", Tags = ["a", "b"], UserId = "ann" }, cancellationToken: Ct);
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "two" }, cancellationToken: Ct);

        var run = Assert.Single((await engine.Sessions.GetAsync(tagged.SessionId!.Value, Ct)).Runs);
        var found = await engine.Get<RunSearch>().SearchAsync(new RunQuery { Tag = "b", UserId = "ann" }, 0, 10, Ct);
        var byTag = await engine.Get<AnalyticsQueries>().GetCostByTagAsync(new CostFilter(), Ct);
        using var jsonl = new MemoryStream();
        await engine.Get<RunExporter>().ExportAsync(new RunExportFilter(), RunExportFormat.Jsonl, jsonl, Ct);

        Assert.Equal(["a", "b"], run.Tags);
        Assert.Equal("ann", run.UserId);
        Assert.Equal("one", Assert.Single(found.Runs).Query);
        Assert.Equal(["a", "b"], byTag.Select(t => t.Key).Order());
        var lines = Encoding.UTF8.GetString(jsonl.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var exported = Assert.Single(lines, l => l["userId"]?.GetValue<string>() == "ann");
        Assert.Equal(["a", "b"], exported["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
    }
}
