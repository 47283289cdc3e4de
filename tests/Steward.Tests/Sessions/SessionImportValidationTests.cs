using System.Text;
using System.Text.Json.Nodes;
using Steward.Agents;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

/// <summary>An export is a file from anywhere: every field is checked, a problem is one line naming it, nothing is half-stored.</summary>
public sealed class SessionImportValidationTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> HostileDocuments => new()
    {
        { "negative tokens", "runs[2].usage.input_tokens: must be 0 or more (found -4999584)" },
        { "system message", "messages[0].role: must be 'user' or 'assistant' (found 'system')" },
        { "preset path", "session.preset: '../../../../tmp/evil' is not a preset name" },
        { "run preset path", "runs[1].preset: '../x' is not a preset name" },
        { "huge cost", "runs[0].cost.usd: must be between 0 and 1000000 (found 100000000000000000000)" },
        { "duplicate run ids", "runs[1].id: " },
        { "null title", "session.title: must be a string, not null." },
        { "non-guid id", "session.id: must be an id (a GUID such as" },
        { "no messages", "messages: missing or not a list" },
        { "markup model", "runs[0].model: '<img src=x onerror=alert(1)>' contains '<'" },
        { "control character model", "runs[0].model: 'gpt\\u000Ainjected' contains the control character U+000A" },
        { "numeric status", "runs[0].status: must be one of Running, Completed" },
        { "missing query", "runs[0].query: missing." },
        { "token overflow", "runs[0].usage.output_tokens: must be a whole number (found 1e20)" },
        { "dangling run id", "messages[0].run_id: 00000000-0000-0000-0000-00000000000a is not the id of a run in this export" },
        { "cached above input", "runs[0].usage.cached_input_tokens: must not exceed input_tokens" },
        { "unpriced with a cost", "runs[0].cost.usd: must be null when priced is false" },
        { "bad trace id", "runs[0].trace_id: must be 32 lower-case hexadecimal digits" },
        { "running run", "runs[0].status: is Running" },
        { "empty session id", "session.id: must not be the empty id" },
    };

    [Theory]
    [MemberData(nameof(HostileDocuments))]
    public async Task Import_HostileField_OneLineNamingTheFieldAndNothingStored(string change, string expected)
    {
        var id = await ConversationAsync();
        var doc = JsonNode.Parse(await ExportJsonAsync(id))!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();
        Mutate(doc, change);
        var before = await CountsAsync();

        var ex = await Assert.ThrowsAsync<SessionImportException>(() => ImportAsync(doc.ToJsonString()));

        Assert.True(ex.Message.Contains(expected, StringComparison.Ordinal), ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.EndsWith("Nothing was imported.", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.CanImportAsCopy);
        Assert.Equal(before, await CountsAsync());
    }

    [Fact]
    public async Task Import_SeveralProblems_FirstOneAndHowManyMore()
    {
        var doc = JsonNode.Parse(await ExportJsonAsync(await ConversationAsync()))!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();
        doc["runs"]![0]!["usage"]!["input_tokens"] = -1;
        doc["runs"]![1]!["usage"]!["output_tokens"] = -1;
        doc["messages"]![0]!["role"] = "system";

        var ex = await Assert.ThrowsAsync<SessionImportException>(() => ImportAsync(doc.ToJsonString()));

        Assert.StartsWith("runs[0].usage.input_tokens: must be 0 or more (found -1) (and 2 more problems).", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Contains("(and 2 more problems)", StringComparison.Ordinal), ex.Message);
    }

    [Fact]
    public async Task Import_CopyOfAnExportWithOnlyTheSessionIdChanged_RefusedNamingTheRunAndTheCopyOption()
    {
        var id = await ConversationAsync();
        var doc = JsonNode.Parse(await ExportJsonAsync(id))!;
        var firstRun = doc["runs"]![0]!["id"]!.GetValue<string>();
        doc["session"]!["id"] = Guid.NewGuid().ToString();

        var ex = await Assert.ThrowsAsync<SessionImportException>(() => ImportAsync(doc.ToJsonString()));

        Assert.Equal($"runs[0].id: run {firstRun} is already stored, in session {id}; nothing was imported.", ex.Message);
        Assert.True(ex.CanImportAsCopy);
        Assert.Single(await Engine.Sessions.ListAsync(null, 0, 10, Ct));
    }

    [Fact]
    public async Task ImportAsCopy_ExportOfAStoredSession_NewIdsEverythingElseKept()
    {
        var id = await ConversationAsync();
        var exported = await ExportJsonAsync(id);

        Guid copy;
        using (var input = new MemoryStream(Encoding.UTF8.GetBytes(exported)))
        {
            copy = await Engine.Get<SessionExporter>().ImportAsync(input, asCopy: true, Ct);
        }

        Assert.NotEqual(id, copy);
        var original = JsonNode.Parse(exported)!;
        var copied = JsonNode.Parse(await ExportJsonAsync(copy))!;
        Assert.Equal(original["session"]!["title"]!.GetValue<string>() + " (copy)", copied["session"]!["title"]!.GetValue<string>());
        var oldRuns = original["runs"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToArray();
        var newRuns = copied["runs"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToArray();
        Assert.Equal(3, newRuns.Length);
        Assert.Empty(oldRuns.Intersect(newRuns));
        // Messages still belong to their runs, under the new ids.
        var map = oldRuns.Zip(newRuns).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal(
            original["messages"]!.AsArray().Select(m => m!["run_id"]?.GetValue<string>() is { } r ? map[r] : null),
            copied["messages"]!.AsArray().Select(m => m!["run_id"]?.GetValue<string>()));
        foreach (var node in new[] { original, copied })
        {
            node.AsObject().Remove("exported_at");
            node["session"]!.AsObject().Remove("id");
            node["session"]!.AsObject().Remove("title");
            node.AsObject().Remove("messages");
            foreach (var run in node["runs"]!.AsArray())
            {
                run!.AsObject().Remove("id");
            }
        }

        Assert.True(JsonNode.DeepEquals(original, copied), $"the copy differs beyond its ids:\n{original}\n---\n{copied}");
        Assert.Equal(2, (await Engine.Sessions.ListAsync(null, 0, 10, Ct)).Count);
    }

    [Fact]
    public async Task Import_SameExportSeveralTimesAtOnce_OneStoredTheOthersRefusedInOneLine()
    {
        var doc = JsonNode.Parse(await ExportJsonAsync(await ConversationAsync()))!;
        doc["session"]!["id"] = Guid.NewGuid().ToString();
        foreach (var run in doc["runs"]!.AsArray())
        {
            var old = run!["id"]!.GetValue<string>();
            var fresh = Guid.NewGuid().ToString();
            run["id"] = fresh;
            foreach (var message in doc["messages"]!.AsArray().Where(m => m!["run_id"]?.GetValue<string>() == old))
            {
                message!["run_id"] = fresh;
            }
        }

        var json = doc.ToJsonString();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            try
            {
                return (Stored: await ImportAsync(json), Refused: (SessionImportException?)null);
            }
            catch (SessionImportException ex)
            {
                return (Stored: Guid.Empty, Refused: ex);
            }
        }));

        Assert.Single(outcomes, o => o.Refused is null);
        Assert.All(outcomes.Where(o => o.Refused is not null), o =>
        {
            Assert.True(o.Refused!.CanImportAsCopy);
            Assert.DoesNotContain('\n', o.Refused.Message);
        });
        Assert.Equal(2, (await Engine.Sessions.ListAsync(null, 0, 10, Ct)).Count);
    }

    private static void Mutate(JsonNode doc, string change)
    {
        var runs = doc["runs"]!.AsArray();
        switch (change)
        {
            case "negative tokens": runs[2]!["usage"]!["input_tokens"] = -4999584; break;
            case "system message": doc["messages"]![0]!["role"] = "system"; break;
            case "preset path": doc["session"]!["preset"] = "../../../../tmp/evil"; break;
            case "run preset path": runs[1]!["preset"] = "../x"; break;
            case "huge cost": runs[0]!["cost"] = JsonNode.Parse("""{"usd": 1e20, "priced": true}"""); break;
            case "duplicate run ids": runs[1]!["id"] = runs[0]!["id"]!.GetValue<string>(); break;
            case "null title": doc["session"]!["title"] = null; break;
            case "non-guid id": doc["session"]!["id"] = "session-one"; break;
            case "no messages": doc.AsObject().Remove("messages"); break;
            case "markup model": runs[0]!["model"] = "<img src=x onerror=alert(1)>"; break;
            case "control character model": runs[0]!["model"] = "gpt\ninjected"; break;
            case "numeric status": runs[0]!["status"] = 1; break;
            case "missing query": runs[0]!.AsObject().Remove("query"); break;
            case "token overflow": runs[0]!["usage"]!["output_tokens"] = JsonNode.Parse("1e20"); break;
            case "dangling run id": doc["messages"]![0]!["run_id"] = "00000000-0000-0000-0000-00000000000a"; break;
            case "cached above input": runs[0]!["usage"]!["cached_input_tokens"] = 100_000; break;
            case "unpriced with a cost": runs[0]!["cost"] = JsonNode.Parse("""{"usd": 0.5, "priced": false}"""); break;
            case "bad trace id": runs[0]!["trace_id"] = "<script>"; break;
            case "running run": runs[0]!["status"] = "Running"; break;
            case "empty session id": doc["session"]!["id"] = Guid.Empty.ToString(); break;
            default: throw new ArgumentException(change);
        }
    }

    private Task<Guid> ConversationAsync() => SessionTestData.ConversationAsync(Engine, Server);

    private Task<string> ExportJsonAsync(Guid id) => SessionTestData.ExportJsonAsync(Engine, id);

    private async Task<Guid> ImportAsync(string json)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return await Engine.Get<SessionExporter>().ImportAsync(input, Ct);
    }

    private async Task<(int Sessions, int Runs)> CountsAsync()
    {
        var sessions = await Engine.Sessions.ListAsync(null, 0, 1000, Ct);
        return (sessions.Count, sessions.Sum(s => s.RunCount));
    }
}
