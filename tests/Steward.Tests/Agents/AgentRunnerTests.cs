using Microsoft.EntityFrameworkCore;
using Steward.Agents;
using Steward.Storage;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Agents;

public sealed class AgentRunnerTests : EngineTest
{
    private async Task<(AgentResponse Response, List<RunProgress> Events)> RunAsync(RunRequest request, CancellationToken? cancellation = null)
    {
        var cancellationToken = cancellation ?? TestContext.Current.CancellationToken;
        var events = new List<RunProgress>();
        var response = await Engine.Runner.RunAsync(request, p => { events.Add(p); return ValueTask.CompletedTask; }, cancellationToken);
        return (response, events);
    }

    private async Task<List<RunRecord>> StoredRunsAsync()
    {
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        return await db.Runs.Include(r => r.Events).ToListAsync(TestContext.Current.CancellationToken);
    }

    private async Task<int> StoredMessageCountAsync()
    {
        await using var db = await Engine.Get<IDbContextFactory<StewardDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        return await db.Messages.CountAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task RunAsync_Success_PassesEveryStageInOrderAndStreamsText()
    {
        var (response, events) = await RunAsync(new RunRequest { Preset = "assistant", Query = "Say hello" });

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal("Hello from the fake model.", response.Text);
        var stages = events.Where(e => e.TextDelta is null).Select(e => e.Stage).ToArray();
        Assert.Equal([RunStage.Initializing, RunStage.CheckingBudget, RunStage.Running, RunStage.Completed], stages);
        var deltas = events.Where(e => e.TextDelta is not null).ToList();
        Assert.Equal(["Hello", " from", " the fake", " model."], deltas.Select(d => d.TextDelta));
        // Deltas arrive between Running and Completed (scoring, if any, comes after delivery).
        var runningAt = events.FindIndex(e => e.Stage == RunStage.Running && e.TextDelta is null);
        var completedAt = events.FindIndex(e => e.Stage == RunStage.Completed);
        Assert.All(deltas, d => Assert.InRange(events.IndexOf(d), runningAt + 1, completedAt - 1));
        Assert.Same(response, events[^1].Response);
        Assert.True(events[^1].IsTerminal);

        Assert.Equal(new RunUsage(12, 4, 7, 2), response.Usage);
        Assert.NotNull(response.TimeToFirstToken);
        Assert.False(response.Cost.IsPriced); // an unknown cloud model is unpriced, never free
    }

    [Fact]
    public async Task RunAsync_Success_StoresRunMessagesAndProgressLog()
    {
        var (response, _) = await RunAsync(new RunRequest { Preset = "assistant", Query = "Say hello" });

        var run = Assert.Single(await StoredRunsAsync());
        Assert.Equal(nameof(RunStatus.Completed), run.Status);
        Assert.Equal((12L, 4L, 7L, 2L), (run.InputTokens, run.CachedInputTokens, run.OutputTokens, run.ReasoningTokens));
        Assert.Equal("fake", run.Provider);
        Assert.Equal("fake-model", run.Model);
        Assert.NotNull(run.EndedAt);
        Assert.NotNull(run.TimeToFirstTokenMs);
        Assert.Equal(["Initializing", "CheckingBudget", "Running", "Completed"], run.Events.OrderBy(e => e.Sequence).Select(e => e.Stage));
        var detail = await Engine.Sessions.GetAsync(response.SessionId!.Value, TestContext.Current.CancellationToken);
        Assert.Equal([("user", "Say hello"), ("assistant", "Hello from the fake model.")], detail.Messages.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public async Task RunAsync_SecondTurn_SendsTheFirstExchangeToTheModel()
    {
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "My name is Ada." }, cancellationToken: TestContext.Current.CancellationToken);
        Server.Reply = _ => new FakeReply { Chunks = ["Your name is Ada."] };

        var second = await Engine.Runner.RunAsync(
            new RunRequest { Preset = "assistant", Query = "What is my name?", SessionId = first.SessionId }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, second.Status);
        Assert.Equal(first.SessionId, second.SessionId);
        var messages = Server.Requests.Last().Json["messages"]!.AsArray()
            .Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToArray();
        Assert.Equal(
            [("system", "You are a test assistant. Answer briefly."), ("user", "My name is Ada."), ("assistant", "Hello from the fake model."), ("user", "What is my name?")],
            messages);
    }

    [Fact]
    public async Task RunAsync_CancelledMidStream_EndsCancelledAndStoresNoMessages()
    {
        Server.Reply = _ => new FakeReply { HangAfterChunks = 1 };
        using var cts = new CancellationTokenSource();
        var events = new List<RunProgress>();

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Tell me a long story" }, p =>
        {
            events.Add(p);
            if (p.TextDelta is not null)
            {
                cts.Cancel();
            }

            return ValueTask.CompletedTask;
        }, cancellationToken: cts.Token);

        Assert.Equal(RunStatus.Cancelled, response.Status);
        Assert.Equal(RunStage.Cancelled, events[^1].Stage);
        Assert.Contains(events, e => e.TextDelta == "Hello");
        var run = Assert.Single(await StoredRunsAsync());
        Assert.Equal(nameof(RunStatus.Cancelled), run.Status);
        Assert.Equal(0, await StoredMessageCountAsync());
    }

    [Fact]
    public async Task CancelAsync_RunInProgress_EndsItCancelledAndFinishedRunsAreNotFound()
    {
        Server.Reply = _ => new FakeReply { HangAfterChunks = 1 };
        var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Tell me a long story" }, async p =>
        {
            if (p.TextDelta is not null && !cancelled.Task.IsCompleted)
            {
                // Whoever holds only the run's id (another request, another page) ends it.
                cancelled.SetResult(await Engine.Runner.CancelAsync(p.RunId));
            }
        }, TestContext.Current.CancellationToken);

        Assert.True(await cancelled.Task);
        Assert.Equal(RunStatus.Cancelled, response.Status);
        Assert.False(await Engine.Runner.CancelAsync(response.RunId));
        Assert.False(await Engine.Runner.CancelAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task RunAsync_CancelledBeforeStart_EndsCancelledWithoutCallingTheModel()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var (response, events) = await RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellation: cts.Token);

        Assert.Equal(RunStatus.Cancelled, response.Status);
        Assert.Equal(RunStage.Cancelled, events[^1].Stage);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task RunAsync_ProviderFails_EndsFailedWithCleanMessageAndNothingHalfWritten()
    {
        Server.Reply = _ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("upstream exploded", "server_error")) };

        var (response, events) = await RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" });

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal("provider_server_error", response.Error!.Code);
        Assert.Contains("server error", response.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TestEngine.ApiKey, response.Error.Message, StringComparison.Ordinal);
        Assert.Equal(RunStage.Failed, events[^1].Stage);
        Assert.Equal("", response.Text);
        var run = Assert.Single(await StoredRunsAsync());
        Assert.Equal(nameof(RunStatus.Failed), run.Status);
        Assert.Equal(response.Error.Message, run.Error);
        Assert.Equal(0, await StoredMessageCountAsync());
    }

    [Fact]
    public async Task RunAsync_ProviderFailsMidStream_StoresNoPartialAnswer()
    {
        var calls = 0;
        Server.Reply = _ => Interlocked.Increment(ref calls) == 1 ? new FakeReply { HangAfterChunks = 2 } : new FakeReply();
        await using var engine = await TestEngine.StartAsync(Server.OpenAIUrl, s => s["Steward:Providers:fake:TimeoutSeconds"] = "1");

        var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal("provider_timeout", response.Error!.Code);
        var detail = await engine.Sessions.GetAsync(response.SessionId!.Value, TestContext.Current.CancellationToken);
        Assert.Empty(detail.Messages);
        Assert.Equal(RunStatus.Failed, Assert.Single(detail.Runs).Status);
    }

    [Fact]
    public async Task RunAsync_UnknownPreset_FailsNamingTheKnownOnes()
    {
        var (response, _) = await RunAsync(new RunRequest { Preset = "nope", Query = "Hi" });

        Assert.Equal(RunStatus.Failed, response.Status);
        Assert.Equal("preset_not_found", response.Error!.Code);
        Assert.Contains("assistant", response.Error.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task RunAsync_OverRequestTokenBudget_EndsBudgetExceededWithoutCallingTheModel()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "tight.yaml"),
            TestEngine.Preset("tight", "max_output_tokens: 500\nbudget:\n  max_tokens_per_request: 100"), TestContext.Current.CancellationToken);

        var (response, events) = await RunAsync(new RunRequest { Preset = "tight", Query = "Hi" });

        Assert.Equal(RunStatus.BudgetExceeded, response.Status);
        Assert.Equal(RunStage.BudgetExceeded, events[^1].Stage);
        Assert.Contains("limit 100 tokens", response.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("needs up to", response.Error.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
        Assert.Equal(nameof(RunStatus.BudgetExceeded), Assert.Single(await StoredRunsAsync()).Status);
    }

    [Fact]
    public async Task RunAsync_ListenerThrows_RunStillCompletes()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" },
            _ => throw new InvalidOperationException("UI went away"), TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
    }

    [Fact]
    public async Task StreamAsync_YieldsTheSameEventsEndingWithTheResponse()
    {
        var events = new List<RunProgress>();
        await foreach (var e in Engine.Runner.StreamAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken))
        {
            events.Add(e);
        }

        Assert.Equal(RunStage.Initializing, events[0].Stage);
        Assert.Equal(RunStatus.Completed, events[^1].Response!.Status);
    }
}

public sealed class StatelessRunTests : EngineTest
{
    [Fact]
    public async Task RunAsync_WholeConversationInTheRequest_SendsItAllAndStoresTheRunInASessionOfItsOwn()
    {
        var request = new RunRequest
        {
            Preset = "assistant",
            Messages =
            [
                new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "My name is Ada."),
                new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.Assistant, "Hello Ada."),
                new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, "What is my name?"),
            ],
            Options = new Microsoft.Extensions.AI.ChatOptions { Temperature = 0.25f },
        };

        var response = await Engine.Runner.RunAsync(request, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        var sent = Assert.Single(Server.Requests).Json;
        var contents = sent["messages"]!.AsArray().Select(m => m!["content"]!.ToString()).ToList();
        Assert.Equal(["My name is Ada.", "Hello Ada.", "What is my name?"], contents.Skip(contents.Count - 3));
        Assert.Equal(0.25, sent["temperature"]!.GetValue<double>(), 3);
        var detail = await Engine.Sessions.GetAsync(response.SessionId!.Value, TestContext.Current.CancellationToken);
        Assert.Equal("What is my name?", detail.Summary.Title);
    }

    [Fact]
    public async Task RunAsync_ConversationNotEndingWithTheUser_IsAnInvalidRequest()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest
        {
            Preset = "assistant",
            Messages = [new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.Assistant, "Hi")],
        }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal((RunStatus.Failed, RunErrorCodes.InvalidRequest), (response.Status, response.Error!.Code));
        Assert.Empty(Server.Requests);
    }
}

public sealed class SessionAgentTests : EngineTest
{
    [Fact]
    public async Task RunAsync_SessionOfAnotherAgent_IsRefusedNamingItsAgent()
    {
        await File.WriteAllTextAsync(Path.Combine(Engine.AgentsFolder, "other.yaml"), TestEngine.Preset("other"), TestContext.Current.CancellationToken);
        var first = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        var again = await Engine.Runner.RunAsync(new RunRequest { Preset = "other", Query = "Hi again", SessionId = first.SessionId },
            cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal((RunStatus.Failed, RunErrorCodes.InvalidRequest), (again.Status, again.Error!.Code));
        Assert.Contains("conversation with agent 'assistant'", again.Error.Message, StringComparison.Ordinal);
        Assert.Single(Server.Requests);
    }
}
