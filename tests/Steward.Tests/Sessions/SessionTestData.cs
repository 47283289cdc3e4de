using System.Text;
using Steward.Agents;
using Steward.Sessions;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Sessions;

/// <summary>A stored conversation to export: a completed run, a failed one and another completed one.</summary>
internal static class SessionTestData
{
    public static async Task<Guid> ConversationAsync(TestEngine engine, FakeModelServer server)
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi — ünïcødé & \"quotes\"" }, cancellationToken: ct);
        server.Reply = _ => new FakeReply { Error = (500, FakeModelServer.OpenAIError("boom", "server_error")) };
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "This one fails", SessionId = first.SessionId }, cancellationToken: ct);
        server.Reply = _ => new FakeReply { Chunks = ["Second", " answer."] };
        await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "And again", SessionId = first.SessionId }, cancellationToken: ct);
        return first.SessionId!.Value;
    }

    public static async Task<string> ExportJsonAsync(TestEngine engine, Guid id)
    {
        using var stream = new MemoryStream();
        await engine.Get<SessionExporter>().WriteAsync(id, stream, TestContext.Current.CancellationToken);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
