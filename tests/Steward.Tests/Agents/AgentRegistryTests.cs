using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Steward.Agents;
using Steward.Providers;
using Steward.Tests.TestSupport;

namespace Steward.Tests.Agents;

public sealed class AgentRegistryTests : EngineTest
{
    private readonly CountingProvider _counting = new();

    protected override void Configure(Dictionary<string, string?> settings) => settings["Steward:Providers:fake:Kind"] = CountingProvider.KindName;

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IChatClientProvider>(_counting);

    /// <summary>Wraps the real OpenAI-compatible client and counts creations and disposals.</summary>
    private sealed class CountingProvider : IChatClientProvider
    {
        public const string KindName = "openai-compatible";
        private readonly OpenAIChatClientProvider _inner = new(ProviderKinds.OpenAICompatible);
        public int Created;
        public int Disposed;

        public string Kind => KindName;

        public IChatClient CreateClient(ResolvedProvider provider)
        {
            Interlocked.Increment(ref Created);
            Thread.Sleep(50); // widen the race window
            return new DisposeCounting(_inner.CreateClient(provider), this);
        }

        private sealed class DisposeCounting(IChatClient inner, CountingProvider owner) : DelegatingChatClient(inner)
        {
            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    Interlocked.Increment(ref owner.Disposed);
                }

                base.Dispose(disposing);
            }
        }
    }

    [Fact]
    public void Acquire_HundredConcurrentSessions_CreateExactlyOneAgent()
    {
        var registry = Engine.Get<AgentRegistry>();
        var preset = Engine.Get<PresetCatalog>().Get("assistant");
        var provider = Engine.Get<ProviderCatalog>().Resolve(null, null);
        using var start = new Barrier(100);
        var leases = new AgentLease[100];

        // Dedicated threads released together by a barrier: a real simultaneous start, without starving the pool.
        var threads = Enumerable.Range(0, 100).Select(i => new Thread(() =>
        {
            start.SignalAndWait(TestContext.Current.CancellationToken);
            leases[i] = registry.Acquire(preset, provider, Guid.NewGuid());
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(1, _counting.Created);
        Assert.Single(leases.Select(l => l.Agent).Distinct());
        var info = Assert.Single(registry.Snapshot());
        Assert.Equal((100L, 100, 100), (info.UsageCount, info.SessionsServed, info.InFlight));
        Assert.NotNull(info.FirstUsedAt);
        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        Assert.Equal(0, Assert.Single(registry.Snapshot()).InFlight);
    }

    [Fact]
    public async Task RunAsync_ConcurrentRunsInManySessions_ShareOneAgent()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = $"Question {i}" }, cancellationToken: TestContext.Current.CancellationToken)));

        Assert.All(responses, r => Assert.Equal(RunStatus.Completed, r.Status));
        Assert.Equal(1, _counting.Created);
        var info = Assert.Single(Engine.Get<AgentRegistry>().Snapshot());
        Assert.Equal((20L, 20), (info.UsageCount, info.SessionsServed));
    }

    [Fact]
    public async Task DisposeAsync_ReleasesEveryAgentClient()
    {
        await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);
        var registry = Engine.Get<AgentRegistry>();

        await registry.DisposeAsync();

        Assert.Equal(1, _counting.Disposed);
        Assert.Throws<ObjectDisposedException>(() =>
            registry.Acquire(Engine.Get<PresetCatalog>().Get("assistant"), Engine.Get<ProviderCatalog>().Resolve(null, null), Guid.NewGuid()));
    }

    [Fact]
    public async Task PresetEdited_NewRequestsGetNewAgentWhileRunningOneFinishesOnTheOld()
    {
        var registry = Engine.Get<AgentRegistry>();
        var catalog = Engine.Get<PresetCatalog>();
        var provider = Engine.Get<ProviderCatalog>().Resolve(null, null);
        var oldLease = registry.Acquire(catalog.Get("assistant"), provider, Guid.NewGuid());
        var path = Path.Combine(Engine.AgentsFolder, "assistant.yaml");

        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken))
            .Replace("Answer briefly.", "Answer in French.", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));
        Server.Reply = _ => new FakeReply { Chunks = ["Bonjour."] };
        var response = await Engine.Runner.RunAsync(new RunRequest { Preset = "assistant", Query = "Hi" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(RunStatus.Completed, response.Status);
        Assert.Equal("You are a test assistant. Answer in French.", Server.Requests.Last().Json["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal(2, _counting.Created);
        Assert.Equal(0, _counting.Disposed); // the old agent is still in use
        Assert.Contains(registry.Snapshot(), i => i.Superseded);

        oldLease.Dispose();

        Assert.Equal(1, _counting.Disposed);
        Assert.DoesNotContain(registry.Snapshot(), i => i.Superseded);
    }
}
