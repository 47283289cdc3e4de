using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

public sealed class SessionExportTests : EngineTest
{
    private Task<Guid> ConversationAsync(TestEngine engine) => SessionTestData.ConversationAsync(engine, Server);

    private static Task<string> ExportJsonAsync(TestEngine engine, Guid id) => SessionTestData.ExportJsonAsync(engine, id);

    [Fact]
    public async Task ExportThenImport_IntoAnotherDatabase_IsLossless()
    {
        var id = await ConversationAsync(Engine);
        var exported = await ExportJsonAsync(Engine, id);

        await using var other = await TestEngine.StartAsync(Server.OpenAIUrl);
        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(exported)))
        {
            Assert.Equal(id, await other.Get<SessionExporter>().ImportAsync(input, TestContext.Current.CancellationToken));
        }

        var reexported = await ExportJsonAsync(other, id);
        var a = JsonNode.Parse(exported)!.AsObject();
        var b = JsonNode.Parse(reexported)!.AsObject();
        a.Remove("exported_at");
        b.Remove("exported_at");
        Assert.True(JsonNode.DeepEquals(a, b), $"Documents differ:\n{a}\n---\n{b}");
    }

    [Fact]
    public async Task Export_HasVersionMessagesRunsUsageAndProgressLog()
    {
        var id = await ConversationAsync(Engine);

        var doc = JsonNode.Parse(await ExportJsonAsync(Engine, id))!;

        Assert.Equal(SessionExportDocument.CurrentSchemaVersion, doc["schema_version"]!.GetValue<int>());
        Assert.Equal(4, doc["messages"]!.AsArray().Count);
        var runs = doc["runs"]!.AsArray();
        Assert.Equal(["Completed", "Failed", "Completed"], runs.Select(r => r!["status"]!.GetValue<string>()));
        Assert.Equal(12, runs[0]!["usage"]!["input_tokens"]!.GetValue<long>());
        Assert.Equal(4, runs[0]!["usage"]!["cached_input_tokens"]!.GetValue<long>());
        Assert.False(runs[0]!["cost"]!["priced"]!.GetValue<bool>());
        Assert.Equal("provider_server_error", runs[1]!["error"]!["code"]!.GetValue<string>());
        Assert.Equal("Completed", runs[2]!["progress_log"]!.AsArray()[^1]!["stage"]!.GetValue<string>());
    }

    [Fact]
    public async Task Export_ContainsNoConfiguredSecret()
    {
        Server.Reply = _ => new FakeReply { Error = (401, FakeModelServer.OpenAIError($"Incorrect API key provided: {TestEngine.ApiKey}", "invalid_request_error")) };
        var failed = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(RunStatus.Failed, failed.Status);

        var json = await ExportJsonAsync(Engine, failed.SessionId!.Value);

        Assert.DoesNotContain(TestEngine.ApiKey, json, StringComparison.Ordinal);
        Assert.DoesNotContain(TestEngine.ApiKey[^6..], json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_ExistingSession_RefusesAndKeepsStoredData()
    {
        var id = await ConversationAsync(Engine);
        var exported = await ExportJsonAsync(Engine, id);

        using var input = new MemoryStream(Encoding.UTF8.GetBytes(exported));
        var ex = await Assert.ThrowsAsync<SessionImportException>(() => Engine.Get<SessionExporter>().ImportAsync(input, TestContext.Current.CancellationToken));

        Assert.Contains("is already stored", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.CanImportAsCopy);
        Assert.Equal(3, (await Engine.Sessions.GetAsync(id, TestContext.Current.CancellationToken)).Runs.Count);
    }

    [Theory]
    [InlineData("not json", "not a Steward session export")]
    [InlineData("""{"schema_version": 99, "session": {"id":"00000000-0000-0000-0000-000000000001","title":"t","preset":"p","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}""", "schema_version 99")]
    [InlineData("""{"schema_version": 1}""", "has no 'session'")]
    public async Task Import_BadDocument_SaysWhatIsWrong(string json, string expected)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(json));

        var ex = await Assert.ThrowsAsync<SessionImportException>(() => Engine.Get<SessionExporter>().ImportAsync(input, TestContext.Current.CancellationToken));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
