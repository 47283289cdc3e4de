using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Steward.Sessions;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.Api;

/// <summary><c>/api/sessions</c> over real HTTP: list, get, export, import (round trip, refusals), delete.</summary>
public sealed class SessionsApiTests : ApiTest
{

    private async Task<Guid> ChatAsync(string message)
    {
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");
        return run["sessionId"]!.GetValue<Guid>();
    }

    [Fact]
    public async Task ListAndGet_FilterByTextAndAgent_AsHistoryDoes()
    {
        var weather = await ChatAsync("What is the weather?");
        await ChatAsync("Tell me a joke");

        var all = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/sessions", Ct));
        var found = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/sessions?text=WEATHER&agent=assistant", Ct));
        var session = await ApiApp.ReadJsonAsync(await Http.GetAsync($"/api/sessions/{weather}", Ct));

        Assert.Equal(2, all["total"]!.GetValue<int>());
        Assert.Equal(weather, Assert.Single(found["rows"]!.AsArray())!["id"]!.GetValue<Guid>());
        Assert.Equal("What is the weather?", session["runs"]![0]!["query"]!.GetValue<string>());
        Assert.Equal(["user", "assistant"], session["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ExportDeleteImport_RoundTrip_SessionComesBackWhole()
    {
        var id = await ChatAsync("Round trip");
        var store = App.Services.GetRequiredService<SessionStore>();
        var before = await store.GetAsync(id, Ct);
        var export = await Http.GetAsync($"/api/sessions/{id}/export", Ct);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal("application/json", export.Content.Headers.ContentType?.MediaType);
        var document = await export.Content.ReadAsStringAsync(Ct);

        var refused = await ApiApp.ProblemAsync(await Http.PostAsync("/api/sessions/import", ApiApp.Json(document), Ct), 409);
        Assert.Contains("asCopy=true", refused["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var delete = await Http.DeleteAsync($"/api/sessions/{id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await ApiApp.ProblemAsync(await Http.GetAsync($"/api/sessions/{id}", Ct), 404);
        await ApiApp.ProblemAsync(await Http.DeleteAsync($"/api/sessions/{id}", Ct), 404);

        var imported = await Http.PostAsync("/api/sessions/import", ApiApp.Json(document), Ct);

        Assert.Equal(HttpStatusCode.Created, imported.StatusCode);
        Assert.Equal(id, (await ApiApp.ReadJsonAsync(imported))["id"]!.GetValue<Guid>());
        var after = await store.GetAsync(id, Ct);
        Assert.Equal(before.Messages, after.Messages);
        Assert.Equal(before.Runs.Select(r => (r.Id, r.Query, r.Status, r.Usage, r.CostUsd)), after.Runs.Select(r => (r.Id, r.Query, r.Status, r.Usage, r.CostUsd)));
        var copy = await ApiApp.ReadJsonAsync(await Http.PostAsync("/api/sessions/import?asCopy=true", ApiApp.Json(document), Ct));
        Assert.NotEqual(id, copy["id"]!.GetValue<Guid>());
        Assert.Equal(2, (await store.ListAsync(null, 0, 10, Ct)).Count);
    }

    [Theory]
    [InlineData("{\"session\": ", "invalid JSON")]
    [InlineData("{\"hello\": 1}", "no 'session'")]
    [InlineData("BROKEN_USAGE", "runs[0].usage.input_tokens")]
    public async Task Import_BadDocument_ProblemNamingTheFieldAndNothingStored(string body, string says)
    {
        if (body == "BROKEN_USAGE")
        {
            var id = await ChatAsync("To break");
            var json = JsonNode.Parse(await Http.GetStringAsync($"/api/sessions/{id}/export", Ct))!;
            await Http.DeleteAsync($"/api/sessions/{id}", Ct);
            json["runs"]![0]!["usage"]!["input_tokens"] = -5;
            body = json.ToJsonString();
        }

        var problem = await ApiApp.ProblemAsync(await Http.PostAsync("/api/sessions/import", ApiApp.Json(body), Ct), 400);

        Assert.Contains(says, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await App.Services.GetRequiredService<SessionStore>().ListAsync(null, 0, 10, Ct));
    }

    [Theory]
    [InlineData("/api/sessions/123", "id")]
    [InlineData("/api/sessions/123/export", "id")]
    [InlineData("/api/sessions?take=500", "take")]
    [InlineData("/api/sessions?includeEvaluation=maybe", "includeEvaluation")]
    public async Task Get_BadParameter_ProblemNamingIt(string url, string field)
    {
        var problem = await ApiApp.ProblemAsync(await Http.GetAsync(url, Ct), 400);

        Assert.Equal(field, problem["field"]!.GetValue<string>());
    }
}
