using Microsoft.Extensions.AI;
using Steward.Agents;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Agents;

/// <summary>The runner's gateway modes: pass-through (no preset), write-behind storage, the caller's own functions.</summary>
public sealed class GatewayRunTests : EngineTest
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_PassThrough_SendsOnlyTheCallersMessagesAndStoresARunNamedAfterTheModel()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest
        {
            Preset = "fake/fake-model", PassThrough = true, Provider = "fake", Model = "fake-model",
            Messages = [new ChatMessage(ChatRole.User, "Hi")], Purpose = Steward.Calls.ModelCallPurpose.Gateway,
        }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var sent = Assert.Single(Server.Requests).Json["messages"]!.AsArray();
        Assert.Equal("user", Assert.Single(sent)!["role"]!.GetValue<string>());
        var run = Assert.Single((await Engine.Sessions.GetAsync(response.SessionId!.Value, Ct)).Runs);
        Assert.Equal("fake/fake-model", run.Preset);
    }

    [Fact]
    public async Task RunAsync_WriteBehind_AnswersThenStoresTheWholeRunInOneWrite()
    {
        var response = await Engine.Runner.RunAsync(new RunRequest
        {
            Preset = "assistant", Messages = [new ChatMessage(ChatRole.User, "Hi")], WriteBehind = true,
        }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        Steward.Sessions.ChatSessionDetail? detail = null;
        for (var attempt = 0; attempt < 100 && detail is null; attempt++)
        {
            try
            {
                detail = await Engine.Sessions.GetAsync(response.SessionId!.Value, Ct);
            }
            catch (Steward.Sessions.SessionNotFoundException)
            {
                await Task.Delay(50, Ct);
            }
        }

        var run = Assert.Single(detail!.Runs);
        Assert.Equal((RunStatus.Completed, 12L), (run.Status, run.Usage.InputTokens));
        Assert.Contains(run.Events, e => e.Stage == RunStage.Completed);
        Assert.Equal(["user", "assistant"], detail.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task RunAsync_ModelCallsTheCallersFunction_EndsWithTheCallForTheCaller()
    {
        Server.Reply = _ => new FakeReply { Chunks = [], ToolCalls = [("lookup", """{"id":7}""")] };
        var schema = System.Text.Json.JsonDocument.Parse("""{"type":"object","properties":{"id":{"type":"integer"}}}""").RootElement;

        var response = await Engine.Runner.RunAsync(new RunRequest
        {
            Preset = "assistant", Messages = [new ChatMessage(ChatRole.User, "Look up 7")],
            Options = new ChatOptions { Tools = [AIFunctionFactory.CreateDeclaration("lookup", "Looks up a record.", schema)] },
        }, cancellationToken: Ct);

        Assert.Equal(RunStatus.Completed, response.Status);
        var call = Assert.Single(response.FunctionCalls);
        Assert.Equal(("lookup", "7"), (call.Name, call.Arguments!["id"]!.ToString()));
        Assert.Single(Server.Requests);
    }
}
