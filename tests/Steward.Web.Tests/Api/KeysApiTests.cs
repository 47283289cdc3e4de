using System.ClientModel;
using System.Net;
using OpenAI.Chat;
using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.Api;

/// <summary><c>/api/keys</c>, <c>/api/budgets</c> and <c>/api/analytics</c> over real HTTP on the running app.</summary>
public sealed class KeysApiTests : ApiTest
{
    protected override Task<GatewayApp> StartAsync() => GatewayApp.StartAsync(settings =>
    {
        settings["Steward:Budgets:Policies:0:Id"] = "everything";
        settings["Steward:Budgets:Policies:0:Scope"] = "Global";
        settings["Steward:Budgets:Policies:0:Period"] = "Daily";
        settings["Steward:Budgets:Policies:0:MaxTokens"] = "100000";
    });

    [Fact]
    public async Task CreateListRevoke_SecretShownOnceWorksWithTheSdkUntilRevoked()
    {
        var created = await ApiApp.PostJsonAsync(Http, "/api/keys", new { name = "billing", models = new[] { "assistant" }, budgetTokens = 100000, budgetPeriod = "Daily", requestsPerMinute = 60 });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await ApiApp.ReadJsonAsync(created);
        var secret = body["secret"]!.GetValue<string>();
        Assert.StartsWith("sk-stw-", secret, StringComparison.Ordinal);
        Assert.Equal("active", body["key"]!["state"]!.GetValue<string>());
        var chat = App.Client(secret).GetChatClient("assistant");
        Assert.Equal("Hello from the fake model.", (await chat.CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Ct)).Value.Content[0].Text);

        var list = await Http.GetStringAsync("/api/keys", Ct);
        var shown = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/keys/billing", Ct));
        Assert.DoesNotContain(secret, list, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[7..], shown.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(body["key"]!["id"]!.GetValue<string>(), shown["id"]!.GetValue<string>());
        Assert.Equal(["assistant"], shown["models"]!.AsArray().Select(m => m!.GetValue<string>()));

        var revoked = await ApiApp.ReadJsonAsync(await Http.PostAsync("/api/keys/billing/revoke", null, Ct));

        Assert.Equal("revoked", revoked["state"]!.GetValue<string>());
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Ct));
        Assert.Equal(401, refused.Status);
    }

    [Theory]
    [InlineData("{\"name\": \"has space\"}", 400, "name")]
    [InlineData("{\"name\": \"ok\", \"budgetUsd\": -1}", 400, "budgetUsd")]
    [InlineData("{\"name\": \"ok\", \"budgetPeriod\": \"Daily\"}", 400, "budgetPeriod")]
    [InlineData("{\"name\": \"ok\", \"budgetPeriod\": \"fortnightly\"}", 400, "budgetPeriod")]
    [InlineData("{\"name\": \"ok\", \"rpm\": 5}", 400, "rpm")]
    public async Task Create_BadInput_ProblemNamingTheFieldAndNoKey(string json, int status, string field)
    {
        var problem = await ApiApp.ProblemAsync(await Http.PostAsync("/api/keys", ApiApp.Json(json), Ct), status);

        Assert.Equal(field, problem["field"]!.GetValue<string>());
        Assert.Equal("[]", (await Http.GetStringAsync("/api/keys", Ct)).Trim());
    }

    [Fact]
    public async Task Create_NameTaken_409AndUnknownKey404()
    {
        await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/keys", new { name = "twice" }));

        var taken = await ApiApp.ProblemAsync(await ApiApp.PostJsonAsync(Http, "/api/keys", new { name = "twice" }), 409);
        var missing = await ApiApp.ProblemAsync(await Http.PostAsync("/api/keys/nobody/revoke", null, Ct), 404);

        Assert.Contains("POST /api/keys/twice/revoke", taken["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("nobody", missing["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BudgetsAndAnalytics_AfterARun_ShowWhatItSpent()
    {
        var run = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Spend" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{run["id"]}/events");

        var budgets = System.Text.Json.Nodes.JsonNode.Parse(await Http.GetStringAsync("/api/budgets", Ct))!.AsArray();
        // A model call's hold is settled to what it used just after the run ends.
        var budget = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/budgets/everything", Ct));
        for (var i = 0; i < 100 && budget["reservedTokens"]!.GetValue<long>() > 0; i++)
        {
            await Task.Delay(50, Ct);
            budget = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/budgets/everything", Ct));
        }

        var costs = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/analytics/costs?agent=assistant", Ct));
        var snapshot = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/analytics?from=2000-01-01", Ct));
        var latency = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/analytics/latency", Ct));

        Assert.Contains(budgets, b => b!["policy"]!["id"]!.GetValue<string>() == "everything");
        Assert.True(budget["spentTokens"]!.GetValue<long>() == 19, budget.ToJsonString());
        Assert.Equal(1, costs["totals"]!["runs"]!.GetValue<long>());
        Assert.Equal(19, costs["totals"]!["tokens"]!["total"]!.GetValue<long>());
        Assert.Equal(1, snapshot["costs"]!["totals"]!["runs"]!.GetValue<long>());
        Assert.Equal(1, latency["runs"]!.GetValue<long>());
        await ApiApp.ProblemAsync(await Http.GetAsync("/api/budgets/nothing", Ct), 404);
        Assert.Equal("sessionId", (await ApiApp.ProblemAsync(await Http.GetAsync("/api/analytics/quality?sessionId=x", Ct), 400))["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Analytics_UserOrTagFilter_CountsOnlyThatUsersOrTagsRuns()
    {
        var tagged = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Spend", userId = "ana", tags = new[] { "billing" } }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{tagged["id"]}/events");
        var other = await ApiApp.ReadJsonAsync(await ApiApp.PostJsonAsync(Http, "/api/runs", new { agent = "assistant", message = "Spend", userId = "bo" }));
        await ApiApp.ReadEventsAsync(Http, $"/api/runs/{other["id"]}/events");

        async Task<long> RunsAsync(string path) => (await ApiApp.ReadJsonAsync(await Http.GetAsync(path, Ct)))["totals"]!["runs"]!.GetValue<long>();
        var snapshot = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/analytics?tag=billing", Ct));
        var latency = await ApiApp.ReadJsonAsync(await Http.GetAsync("/api/analytics/latency?user=bo", Ct));

        Assert.Equal(2, await RunsAsync("/api/analytics/costs"));
        Assert.Equal(1, await RunsAsync("/api/analytics/costs?user=ana"));
        Assert.Equal(1, await RunsAsync("/api/analytics/costs?tag=billing"));
        Assert.Equal(0, await RunsAsync("/api/analytics/costs?user=bo&tag=billing"));
        Assert.Equal(0, await RunsAsync("/api/analytics/costs?user=nobody"));
        Assert.Equal(1, snapshot["costs"]!["totals"]!["runs"]!.GetValue<long>());
        Assert.Equal("billing", Assert.Single(snapshot["byTag"]!.AsArray())!["key"]!.GetValue<string>());
        Assert.Equal("ana", Assert.Single(snapshot["byUser"]!.AsArray())!["key"]!.GetValue<string>());
        Assert.Equal(1, latency["runs"]!.GetValue<long>());
    }
}
