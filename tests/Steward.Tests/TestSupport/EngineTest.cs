using Microsoft.Extensions.DependencyInjection;

namespace Steward.Tests.TestSupport;

/// <summary>A test class with its own fake model server and engine, started before each test and disposed after.</summary>
public abstract class EngineTest : IAsyncLifetime
{
    protected FakeModelServer Server { get; private set; } = null!;

    protected TestEngine Engine { get; set; } = null!;

    /// <summary>Adjusts the engine's settings before it starts.</summary>
    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    /// <summary>Adds or replaces services before the engine starts.</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    public async ValueTask InitializeAsync()
    {
        Server = await FakeModelServer.StartAsync();
        Engine = await TestEngine.StartAsync(Server.OpenAIUrl, Configure, ConfigureServices);
    }

    public virtual async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
