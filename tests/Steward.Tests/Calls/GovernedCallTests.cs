using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Steward.Agents;
using Steward.Budgets;
using Steward.Calls;
using Steward.Storage;
using Steward.Tests.Budgets;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Calls;

/// <summary>
/// Every model call goes through the governed-call layers: the cap reserved is the cap sent (read off the HTTP body the
/// fake server received), usage is trusted only when it can be, and a tool loop's calls are each reserved, settled and
/// recorded. The fake speaks OpenAI's chat completions wire format and is called through the real SDK.
/// </summary>
public sealed partial class GovernedCallTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override void ConfigureServices(IServiceCollection services) => services.AddFakeLogging();

    private Task WritePresetAsync(string name, string extra = "") =>
        File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, name + ".yaml"), TestEngine.Preset(name, extra), Ct);

    private static int? SentCap(RecordedRequest request) =>
        (request.Json["max_completion_tokens"] ?? request.Json["max_tokens"])?.GetValue<int>();

    private async Task<List<ModelCallRecord>> StoredCallsAsync(Guid runId)
    {
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        return await db.ModelCalls.AsNoTracking().Where(c => c.RunId == runId).OrderBy(c => c.Sequence).ToListAsync(Ct);
    }

    private async Task<RunRecord> StoredRunAsync(Guid runId)
    {
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(Ct);
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, Ct);
    }

    [Fact]
    public async Task RunAsync_NoCapInPresetOrRequest_SendsTheDefaultCapThatWasReserved()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var sent = Assert.Single(Server.Requests);
        Assert.Equal(new BudgetOptions().DefaultMaxOutputTokens, SentCap(sent));
        Assert.Equal(new BudgetOptions().DefaultMaxOutputTokens, Assert.Single(response.Calls).MaxOutputTokens);
    }

    [Fact]
    public async Task RunAsync_CapFromPresetOrRequest_IsTheCapSent()
    {
        await WritePresetAsync("capped", "max_output_tokens: 300");

        await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "Hi" }, cancellationToken: Ct);
        await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "Hi", MaxOutputTokens = 42 }, cancellationToken: Ct);

        Assert.Equal([300, 42], Server.Requests.Select(SentCap));
    }

    [Fact]
    public async Task RunAsync_ProviderReportsNoUsage_CountsItMarksItEstimatedAndHardBudgetsHold()
    {
        Server.Reply = _ => new FakeReply { OmitUsage = true };
        await WritePresetAsync("small", "max_output_tokens: 50");
        // Room for one call's worst case and a little more, not for two.
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "small", Query = "Hi" }, cancellationToken: Ct);
        var worstCase = ReservedTokens(first);
        await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = worstCase + 10 }, Ct);

        var runs = new List<AgentResponse>();
        for (var i = 0; i < 5; i++)
        {
            runs.Add(await Engine.Runner.RunAsync(new RunRequest { Preset = "small", Query = "Hi" }, cancellationToken: Ct));
        }

        Assert.True(first.UsageEstimated);
        Assert.True(first.Usage.InputTokens > 0 && first.Usage.OutputTokens > 0, $"counted usage: {first.Usage}");
        Assert.Equal([RunStatus.Completed, RunStatus.BudgetExceeded, RunStatus.BudgetExceeded, RunStatus.BudgetExceeded, RunStatus.BudgetExceeded],
            runs.Select(r => r.Status));
        Assert.True((await StoredRunAsync(first.RunId)).UsageEstimated);
        var counter = await BudgetTestSupport.CounterAsync(Engine, "global");
        Assert.InRange(counter.SpentTokens, 1, worstCase + 10);
    }

    [Fact]
    public async Task RunAsync_StreamCutMidway_FailsAndKeepsThePartialTextApartFromTheAnswer()
    {
        Server.Reply = _ => new FakeReply { Chunks = ["The first half", " of an answer"], CutStream = true };

        var events = new List<RunProgress>();
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" },
            p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal(RunErrorCodes.Provider(Steward.Providers.ProviderFailureKind.Incomplete), response.Error!.Code);
        Assert.Equal("", response.Text);
        Assert.Equal("The first half of an answer", response.PartialText);
        Assert.True(response.UsageEstimated); // what was generated before the cut still counts
        Assert.True(response.Usage.OutputTokens > 0);
        Assert.Equal(RunStage.Failed, events[^1].Stage);
        var run = await StoredRunAsync(response.RunId);
        Assert.Equal(("Failed", "The first half of an answer"), (run.Status, run.PartialAnswer));
        var detail = await Engine.Sessions.GetAsync(response.SessionId!.Value, Ct);
        Assert.Empty(detail.Messages); // not taken as the answer: the conversation has no assistant turn
    }

    [Fact]
    public async Task RunAsync_ConnectionDroppedMidAnswer_FailsAsIncompleteAndKeepsThePartialText()
    {
        Server.Reply = _ => new FakeReply { Chunks = ["The first half", " of an answer"], DropConnection = true };

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, response.Status);
        // The provider answered, then the connection went: the answer was cut short, the server is not unreachable.
        Assert.Equal(RunErrorCodes.Provider(Steward.Providers.ProviderFailureKind.Incomplete), response.Error!.Code);
        Assert.Contains("ended its answer early", response.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", response.Error.Message, StringComparison.Ordinal);
        Assert.Equal("The first half of an answer", response.PartialText);
        Assert.True(response.Usage.OutputTokens > 0);
    }

    [Fact]
    public void AnomalyLogCategory_IsTheCallRecordersCategory()
    {
        // The CLI filters the recorder's anomaly lines by this name; a rename of the class must not silently undo the filter.
        Assert.Equal(ModelCallScope.AnomalyLogCategory, typeof(CallRecordingChatClient).FullName);
    }

    [Fact]
    public async Task RunAsync_ProviderReportsMoreOutputThanTheCapSent_IsRecordedFlaggedAndLogged()
    {
        await WritePresetAsync("capped", "max_output_tokens: 100");
        Server.Reply = _ => new FakeReply { OutputTokens = 500 };
        await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = 1_000_000 }, Ct);

        var events = new List<RunProgress>();
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "capped", Query = "Hi" }, p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(500, response.Usage.OutputTokens);
        // Said to whoever watches the run, once, and kept in its progress log.
        var note = Assert.Single(events, e => e.Message.StartsWith("Provider anomaly", StringComparison.Ordinal));
        Assert.Contains(response.Anomaly!, note.Message, StringComparison.Ordinal);
        var stored = Assert.Single((await Engine.Sessions.GetAsync(response.SessionId!.Value, Ct)).Runs);
        Assert.Single(stored.Events, e => e.Message == note.Message);
        Assert.Contains("500", response.Anomaly, StringComparison.Ordinal);
        Assert.Contains("100", response.Anomaly, StringComparison.Ordinal);
        Assert.Equal(response.Anomaly, (await StoredRunAsync(response.RunId)).Anomaly);
        Assert.Equal(response.Anomaly, Assert.Single(await StoredCallsAsync(response.RunId)).Anomaly);
        Assert.Contains(Engine.Get<FakeLogCollector>().GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.StartsWith("Provider anomaly", StringComparison.Ordinal));
        // The whole of it is spent, not the cap: the next call is checked against what really happened.
        Assert.Equal(12 + 500, (await BudgetTestSupport.CounterAsync(Engine, "global")).SpentTokens);
    }

    [Fact]
    public async Task RunAsync_ToolLoop_EveryCallIsReservedSentTheCapSettledAndRecorded()
    {
        await WritePresetAsync("tooled", "max_output_tokens: 64");
        ScriptToolCalls(toolRounds: 3);
        await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = 1_000_000 }, Ct);
        var events = new List<RunProgress>();

        var response = await Engine.Runner.RunAsync(ToolRequest(), p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal("Done: 42.", response.Text);
        Assert.Equal(4, Server.Requests.Count);
        Assert.All(Server.Requests, r => Assert.Equal(64, SentCap(r)));
        Assert.Equal(4, response.Calls.Count);
        Assert.All(response.Calls, c => Assert.Equal((64, ModelCallStatus.Completed, 12L, 7L), (c.MaxOutputTokens!.Value, c.Status, c.Usage.InputTokens, c.Usage.OutputTokens)));
        Assert.Equal(["tool_calls", "tool_calls", "tool_calls", "stop"], response.Calls.Select(c => c.FinishReason));
        Assert.Equal(3, response.ToolCalls.Count);
        Assert.All(response.ToolCalls, t => Assert.True(t.Completed));
        Assert.Equal(new RunUsage(48, 16, 28, 8), response.Usage); // the run is the sum of its calls
        var stored = await StoredCallsAsync(response.RunId);
        Assert.Equal([1, 2, 3, 4], stored.Select(c => c.Sequence));
        // The first call has the run's id, every later one its own.
        Assert.Equal(response.RunId, stored[0].Id);
        Assert.Equal(4, stored.Select(c => c.Id).Distinct().Count());
        // One reservation per call, each in the progress log.
        Assert.Equal(4, events.Count(e => e.Message.Contains("Reserved up to", StringComparison.Ordinal)));
        Assert.Equal(4 * (12 + 7), (await BudgetTestSupport.CounterAsync(Engine, "global")).SpentTokens);
    }

    [Fact]
    public async Task RunAsync_ToolLoopOverABudgetThatFitsTwoCalls_RefusesTheThirdKeepingTheFirstTwo()
    {
        // A per-request budget too large to matter, so each call's reservation is said in the progress log.
        await WritePresetAsync("tooled", "max_output_tokens: 64\nbudget:\n  max_tokens_per_request: 1000000");
        ScriptToolCalls(toolRounds: 3);
        // What each call reserves, read from the progress log of a run under no other budget.
        var events = new List<RunProgress>();
        await Engine.Runner.RunAsync(ToolRequest(), p => { events.Add(p); return ValueTask.CompletedTask; }, Ct);
        var reserved = events.Select(e => ReservedRegex().Match(e.Message)).Where(m => m.Success)
            .Select(m => long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(4, reserved.Length);
        // After two calls of 19 tokens each, the third call's worst case no longer fits.
        var limit = 19 + reserved[1];
        Assert.True(reserved[0] <= limit && 38 + reserved[2] > limit);
        await Engine.Get<BudgetPolicyCatalog>().SetAsync(new BudgetPolicy { Id = "global", Scope = BudgetScope.Global, MaxTokens = limit }, Ct);
        Server.Requests.Clear();
        ScriptToolCalls(toolRounds: 3);

        var response = await Engine.Runner.RunAsync(ToolRequest(), cancellationToken: Ct);

        Assert.Equal(RunStatus.BudgetExceeded, response.Status);
        Assert.Contains("Refused at model call 3", response.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(2, Server.Requests.Count); // the third call never reached the model
        Assert.Equal(2, response.Calls.Count);
        Assert.Equal(new RunUsage(24, 8, 14, 4), response.Usage);
        Assert.Equal(2, (await StoredCallsAsync(response.RunId)).Count);
        var counter = await BudgetTestSupport.CounterAsync(Engine, "global");
        Assert.Equal((38L, 0L), (counter.SpentTokens, counter.ReservedTokens));
        Assert.True(counter.SpentTokens <= limit);
    }

    private static RunRequest ToolRequest() => new()
    {
        Preset = "tooled",
        Query = "Look it up",
        Options = new ChatOptions { Tools = [AIFunctionFactory.Create(() => "42", "lookup", "Looks the answer up.")] },
    };

    /// <summary>The model calls <c>lookup</c> on its first <paramref name="toolRounds"/> calls, then answers.</summary>
    private void ScriptToolCalls(int toolRounds)
    {
        var calls = 0;
        Server.Reply = _ => Interlocked.Increment(ref calls) <= toolRounds
            ? new FakeReply { Chunks = [], ToolCalls = [("lookup", "{}")] }
            : new FakeReply { Chunks = ["Done: 42."] };
    }

    private static long ReservedTokens(AgentResponse response) =>
        response.Calls.Count == 0 ? 0 : response.Calls[0].MaxOutputTokens!.Value + response.Usage.InputTokens;

    [GeneratedRegex(@"Reserved up to ([\d,]+) tokens")]
    private static partial Regex ReservedRegex();
}

/// <summary>Requests too large to count or send are refused by name, before anything is counted.</summary>
public sealed class RequestSizeTests : EngineTest
{
    // An OpenAI provider (on the fake server), so prompts are counted with OpenAI's real tokenizer.
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Steward:Providers:cloud:Kind"] = "openai";
        settings["Steward:Providers:cloud:Endpoint"] = settings["Steward:Providers:fake:Endpoint"];
        settings["Steward:Providers:cloud:ApiKey"] = TestEngine.ApiKey;
        settings["Steward:Providers:cloud:Model"] = "gpt-4o";
        settings["Steward:Providers:cloud:MaxRetries"] = "0";
    }

    [Fact]
    public async Task RunAsync_OneMegabyteQuestionWithoutWhitespace_IsRefusedNamingTheLimit()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = new string('x', 1 << 20) }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal(RunErrorCodes.InvalidRequest, response.Error!.Code);
        Assert.Equal("The request is 1,048,576 characters long; Steward takes at most 1,000,000 (Steward:Runs:MaxInputCharacters). Shorten it, or raise the limit.",
            response.Error.Message);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task RunAsync_LargeQuestionUnderABudget_IsCountedAndSent()
    {
        // 900,000 characters with no whitespace, counted by the o200k tokenizer for a budget: sliced, so it is linear.
        await Engine.Get<Steward.Budgets.BudgetPolicyCatalog>().SetAsync(
            new Steward.Budgets.BudgetPolicy { Id = "global", Scope = Steward.Budgets.BudgetScope.Global, MaxTokens = 100_000_000 }, TestContext.Current.CancellationToken);

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = new string('x', 900_000), Provider = "cloud" },
            cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Single(Server.Requests);
    }
}
