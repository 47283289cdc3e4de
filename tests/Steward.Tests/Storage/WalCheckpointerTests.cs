using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Providers;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Storage;

public sealed class WalCheckpointerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Runs_WrittenToTheLog_AreCopiedIntoTheDatabaseFileInTheBackground()
    {
        var model = new InstantChatClientProvider();
        await using var engine = await TestEngine.StartAsync("http://127.0.0.1:9/v1", services: services => services.AddSingleton<IChatClientProvider>(model));
        var before = new FileInfo(engine.DatabasePath).Length;

        // A few hundred pages of runs: far below the 10,000 pages at which SQLite would copy the log itself.
        for (var i = 0; i < 60; i++)
        {
            var response = await engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = new string('q', 2000) }, cancellationToken: Ct);
            Assert.Equal(RunStatus.Completed, response.Status);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new FileInfo(engine.DatabasePath).Length <= before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }

        Assert.True(new FileInfo(engine.DatabasePath).Length > before, "The runs stayed in the write-ahead log: no background checkpoint copied them.");
    }
}
