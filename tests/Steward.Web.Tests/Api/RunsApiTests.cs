using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Steward.Sessions;
using Steward.Tests.TestSupport;
using Steward.Web.Tests.Gateway;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Api;

/// <summary><c>/api/runs</c> over real HTTP on the running app: start, follow over SSE, result, list, cancel.</summary>
public sealed class RunsApiTests : ApiTest
{
    protected override Task<GatewayApp> StartAsync() => ApiApp.StartAsync();

    [Fact]
    public async Task StartRun_EmbeddedModel_EventsEndWithTheResultThatHistoryShows()
    {
        var start = await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "storyteller", message = "Once upon a time" });

        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var accepted = await ApiApp.ReadJsonAsync(start);
        var id = accepted["id"]!.GetValue<Guid>();
        Assert.Equal($"/api/runs/{id}", start.Headers.Location!.OriginalString);
        Assert.Equal($"/api/runs/{id}/events", accepted["links"]!["events"]!.GetValue<string>());
        Assert.NotNull(accepted["sessionId"]);

        var events = await ApiApp.ReadEventsAsync(Http, accepted["links"]!["events"]!.GetValue<string>());

        var stages = events.Where(e => e.Event == "stage").Select(e => e.Data["stage"]!.GetValue<string>()).Distinct().ToList();
        Assert.Equal(["Initializing", "CheckingBudget", "Running"], stages.Take(3));
        var deltas = string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data["delta"]!.GetValue<string>()));
        Assert.NotEmpty(deltas);
        var (last, lastId, data) = events[^1];
        Assert.Equal("done", last);
        Assert.Equal((events.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), lastId);
        var streamed = data["result"]!.AsObject();
        Assert.Equal(("Completed", deltas), (streamed["status"]!.GetValue<string>(), streamed["answer"]!.GetValue<string>()));
        Assert.True(events.Where(e => e.Data["metrics"] is not null).All(e => e.Data["metrics"]!["usage"] is not null));

        var result = await ApiApp.ReadJsonAsync(await Http.GetAsync($"/api/runs/{id}", Ct));
        var history = await App.Services.GetRequiredService<SessionStore>().GetAsync(accepted["sessionId"]!.GetValue<Guid>(), Ct);
        var run = Assert.Single(history.Runs);
        Assert.Equal(id, run.Id);
        Assert.Equal(run.Status.ToString(), result["status"]!.GetValue<string>());
        Assert.Equal(history.Messages.Single(m => m.Role == "assistant").Content, result["answer"]!.GetValue<string>());
        Assert.Equal(deltas, result["answer"]!.GetValue<string>());
        Assert.Equal("Once upon a time", result["query"]!.GetValue<string>());
        Assert.Equal((run.Usage.InputTokens, run.Usage.OutputTokens), (result["usage"]!["inputTokens"]!.GetValue<long>(), result["usage"]!["outputTokens"]!.GetValue<long>()));
        Assert.True(run.Usage.OutputTokens > 0);
        Assert.Equal(run.CostUsd, result["cost"]!["usd"]?.GetValue<decimal>());
        Assert.Equal(streamed["usage"]!.ToJsonString(), result["usage"]!.ToJsonString());
        // The done event's result is what GET answers: the same fields, the same times, the model named, not located.
        Assert.NotNull(streamed["startedAt"]);
        Assert.Equal((result["startedAt"]!.GetValue<DateTimeOffset>(), result["endedAt"]!.GetValue<DateTimeOffset>()),
            (streamed["startedAt"]!.GetValue<DateTimeOffset>(), streamed["endedAt"]!.GetValue<DateTimeOffset>()));
        Assert.Equal(result.Select(p => p.Key).Order(), streamed.Select(p => p.Key).Order());
        Assert.Equal(("stories260K", "stories260K"), (result["model"]!.GetValue<string>(), streamed["model"]!.GetValue<string>()));
    }

    [Fact]
    public async Task EmbeddedModelFile_ModelsRunsAndCosts_NameItNeverItsFolder()
    {
        var folder = Path.GetDirectoryName(TestModels.Require("stories260K.gguf"))!;
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "storyteller", message = "Once upon a time" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");
        var secret = await App.CreateKeyAsync(new Steward.Keys.ApiKeySpec { Name = "models" });
        using var models = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        models.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);

        var listed = await (await Http.SendAsync(models, Ct)).Content.ReadAsStringAsync(Ct);
        var byName = await App.Client(secret).GetChatClient("tiny/stories260K").CompleteChatAsync(
            [new OpenAI.Chat.UserChatMessage("Once")], new OpenAI.Chat.ChatCompletionOptions { MaxOutputTokenCount = 8 }, Ct);
        var bodies = new List<string> { listed };
        foreach (var url in new[] { $"/api/runs/{run["id"]}", "/api/runs", "/api/analytics", "/api/analytics/costs" })
        {
            bodies.Add(await (await Http.GetAsync(url, Ct)).Content.ReadAsStringAsync(Ct));
        }

        Assert.Contains("\"tiny/stories260K\"", listed, StringComparison.Ordinal);
        Assert.Equal("tiny/stories260K", byName.Value.Model);
        Assert.All(bodies, body => Assert.DoesNotContain(folder.Replace("\\", "/", StringComparison.Ordinal), body.Replace("\\\\", "/", StringComparison.Ordinal), StringComparison.Ordinal));
        Assert.Contains("stories260K", bodies[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartRun_WithSessionId_ContinuesThatConversation()
    {
        var first = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Hi" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{first["id"]}/events");
        var session = first["sessionId"]!.GetValue<Guid>();

        var second = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "And again", sessionId = session }));
        var events = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{second["id"]}/events");

        Assert.Equal("done", events[^1].Event);
        Assert.Equal(session, second["sessionId"]!.GetValue<Guid>());
        var stored = await App.Services.GetRequiredService<SessionStore>().GetAsync(session, Ct);
        Assert.Equal(["Hi", "And again"], stored.Runs.Select(r => r.Query));
        var sent = App.Model.Requests.Last().Json["messages"]!.AsArray().Select(m => m!["content"]!.ToString()).ToList();
        Assert.Contains("Hello from the fake model.", sent);
    }

    [Fact]
    public async Task Events_QualityTrue_StreamStaysOpenUntilTheAnswerIsScored()
    {
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "scored", message = "Hi" }));

        var events = (await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events?quality=true")).ToList();

        var done = events.FindIndex(e => e.Event == "done");
        var quality = events.FindIndex(e => e.Event == "quality");
        Assert.True(done >= 0 && quality > done, string.Join(", ", events.Select(e => e.Event)));
        var score = events[quality].Data["quality"]!["score"]!.GetValue<double>();
        var stored = await ApiApp.ReadJsonAsync(await Http.GetAsync($"/api/runs/{run["id"]}", Ct));
        Assert.Equal(score, stored["quality"]!["score"]!.GetValue<double>());
        Assert.False(stored["evaluationPending"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Events_RunNotStartedHere_StoredProgressThenTheResult()
    {
        var secret = await App.CreateKeyAsync(new Steward.Keys.ApiKeySpec { Name = "gateway" });
        var answer = await App.Client(secret).GetChatClient("assistant").CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Hi")], cancellationToken: Ct);
        var id = Guid.Parse(answer.GetRawResponse().Headers.First(h => h.Key == "x-steward-run-id").Value);
        await App.WaitForSessionsAsync(1);

        var events = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{id}/events");

        Assert.Contains(events, e => e.Event == "stage" && e.Data["stage"]!.GetValue<string>() == "Running");
        Assert.Equal("done", events[^1].Event);
        Assert.Equal("Hello from the fake model.", events[^1].Data["result"]!["answer"]!.GetValue<string>());
    }

    [Fact]
    public async Task Events_LateSubscriberWithLastEventId_ResumesAfterIt()
    {
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Hi" }));
        var all = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");

        var resumed = await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events", lastEventId: "2");

        Assert.Equal(all.Skip(3).Select(e => (e.Event, e.Id)), resumed.Select(e => (e.Event, e.Id)));
        Assert.Equal("done", resumed[^1].Event);
    }

    [Fact]
    public async Task Cancel_RunningRun_EndsCancelledWithWhatWasStreamedKept()
    {
        App.Model.Reply = _ => new FakeReply { Chunks = [.. Enumerable.Repeat("word ", 200)], DelayBetweenChunks = TimeSpan.FromMilliseconds(50) };
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Talk a lot" }));
        var id = run["id"]!.GetValue<Guid>();
        var reading = ApiApp.ReadEventsAsync(Http, $"/api/runs/{id}/events");
        await WaitUntilAsync(async () => (await ApiApp.ReadJsonAsync(await Http.GetAsync($"/api/runs/{id}", Ct)))["status"]!.GetValue<string>() == "Running"
            && !App.Model.Requests.IsEmpty);

        var cancel = await Http.PostAsync($"/api/runs/{id}/cancel", null, Ct);

        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        Assert.Equal("Cancelled", (await ApiApp.ReadJsonAsync(cancel))["status"]!.GetValue<string>());
        var events = await reading;
        Assert.Equal("failed", events[^1].Event);
        Assert.Equal("Cancelled", events[^1].Data["result"]!["status"]!.GetValue<string>());
        var again = await Http.PostAsync($"/api/runs/{id}/cancel", null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Contains("word", (await ApiApp.ReadJsonAsync(again))["partialAnswer"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_FinishedRun_409SaysItEnded()
    {
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Quick" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");

        var problem = await ApiApp.ProblemAsync(await Http.PostAsync($"/api/runs/{run["id"]}/cancel", null, Ct), 409);

        Assert.Contains("ended already (Completed)", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_FiltersByStatusAgentAndDate_PagesThrough()
    {
        foreach (var message in new[] { "one", "two", "three" })
        {
            var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message }));
            await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");
        }

        var page = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/runs?status=completed&agent=assistant&take=2&from=2000-01-01", Ct));
        var next = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/runs?status=Completed&agent=assistant&take=2&skip=2", Ct));
        var none = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/runs?agent=storyteller", Ct));

        Assert.Equal(3, page["total"]!.GetValue<int>());
        Assert.Equal(["three", "two"], page["runs"]!.AsArray().Select(r => r!["query"]!.GetValue<string>()));
        Assert.Equal(["one"], next["runs"]!.AsArray().Select(r => r!["query"]!.GetValue<string>()));
        Assert.Equal(0, none["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task StartRun_WithTagsAndUser_ListedByTagAndByUser()
    {
        var tagged = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "tagged", tags = new[] { "nightly", "team:search" }, userId = "u-42" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{tagged["id"]}/events");
        var plain = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "plain" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{plain["id"]}/events");

        var byTag = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/runs?tag=team:search", Ct));
        var byUser = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/runs?user=u-42", Ct));

        Assert.Equal(["tagged"], byTag["runs"]!.AsArray().Select(r => r!["query"]!.GetValue<string>()));
        Assert.Equal(["tagged"], byUser["runs"]!.AsArray().Select(r => r!["query"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("/api/runs?status=finished", "status", "Completed")]
    [InlineData("/api/runs?take=0", "take", "between 1 and 200")]
    [InlineData("/api/runs?skip=x", "skip", "whole number")]
    [InlineData("/api/runs?from=yesterday", "from", "ISO 8601")]
    [InlineData("/api/runs?from=2026-02-01&to=2026-01-01", "to", "before from")]
    [InlineData("/api/runs/not-a-guid", "id", "GUID")]
    [InlineData("/api/runs/not-a-guid/events", "id", "GUID")]
    [InlineData("/api/runs/not-a-guid/trace", "id", "GUID")]
    public async Task Get_BadParameter_ProblemNamingIt(string url, string field, string fix)
    {
        var problem = await ApiApp.ProblemAsync(await Http.GetAsync(url, Ct), 400);

        Assert.Equal(field, problem["field"]!.GetValue<string>());
        Assert.StartsWith(field + ":", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(fix, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/events")]
    [InlineData("/cancel")]
    public async Task UnknownRun_404Problem(string suffix)
    {
        var url = $"/api/runs/{Guid.NewGuid()}{suffix}";
        var response = suffix == "/cancel" ? await Http.PostAsync(url, null, Ct) : await Http.GetAsync(url, Ct);

        var problem = await ApiApp.ProblemAsync(response, 404);
        Assert.Contains("No run with id", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"agent\": \"assistant\", \"message\": ", 400, null, "not valid JSON")]
    [InlineData("{\"agent\": \"assistant\"}", 400, "message", "required")]
    [InlineData("{\"message\": \"hi\"}", 400, "agent", "required")]
    [InlineData("{\"agent\": \"assistant\", \"message\": \"hi\", \"temperature\": 2}", 400, "temperature", "not")]
    [InlineData("{\"agent\": \"assistant\", \"message\": 5}", 400, "message", "must be a string")]
    [InlineData("{\"agent\": \"nobody\", \"message\": \"hi\"}", 404, "agent", "nobody")]
    [InlineData("{\"agent\": \"assistant\", \"message\": \"hi\", \"sessionId\": \"0198c3a2-5b6e-7c1d-8e9f-0a1b2c3d4e5f\"}", 404, "sessionId", "0198c3a2-5b6e-7c1d-8e9f-0a1b2c3d4e5f")]
    [InlineData("{\"agent\": \"assistant\", \"message\": \"hi\", \"sessionId\": \"zzz\"}", 400, "sessionId", "GUID")]
    [InlineData("{\"agent\": \"assistant\", \"message\": \"hi\", \"maxOutputTokens\": -1}", 400, "maxOutputTokens", "more than 0")]
    [InlineData("{\"agent\": \"assistant\", \"message\": \"hi\", \"tags\": [\"a\\u0007b\"]}", 400, "tags", "control")]
    public async Task StartRun_BadInput_ProblemNamingItAndNothingStored(string body, int status, string? field, string says)
    {
        var problem = await ApiApp.ProblemAsync(await Http.PostAsync("/api/runs", ApiApp.Json(body), Ct), status);

        Assert.Equal(field, problem["field"]?.GetValue<string>());
        Assert.Contains(says, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task StartRun_OversizeOrNotJson_413And415AndNothingStored()
    {
        var huge = "{\"agent\": \"assistant\", \"message\": \"" + new string('a', 2 * 1024 * 1024) + "\"}";

        var tooLarge = await ApiApp.ProblemAsync(await Http.PostAsync("/api/runs", ApiApp.Json(huge), Ct), 413);
        var notJson = await ApiApp.ProblemAsync(await Http.PostAsync("/api/runs", new StringContent("agent=assistant"), Ct), 415);

        Assert.Contains("Steward:Api", tooLarge["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("application/json", notJson["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task UnknownApiRouteOrMethod_ProblemNotThePagesHtml()
    {
        var route = await ApiApp.ProblemAsync(await Http.GetAsync("/api/nothing-here", Ct), 404);
        var method = await ApiApp.ProblemAsync(await Http.PutAsync("/api/runs", ApiApp.Json("{}"), Ct), 405);

        Assert.Contains("/api/docs", route["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("does not take PUT", method["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private async Task AssertNothingStoredAsync()
    {
        var page = await App.Services.GetRequiredService<RunSearch>().SearchAsync(new RunQuery(), 0, 10, Ct);
        Assert.Equal(0, page.Total);
        Assert.Empty(await App.Services.GetRequiredService<SessionStore>().ListAsync(null, 0, 10, Ct));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200 && !await condition(); i++)
        {
            await Task.Delay(25, Ct);
        }
    }
}
