using Steward.Web.Tests.Gateway;

namespace Steward.Web.Tests.Api;

/// <summary>A test class against its own running app, with an HTTP client for it.</summary>
public abstract class ApiTest : IAsyncLifetime
{
    protected GatewayApp App { get; private set; } = null!;

    protected HttpClient Http { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Starts the app the class tests.</summary>
    protected virtual Task<GatewayApp> StartAsync() => GatewayApp.StartAsync();

    public async ValueTask InitializeAsync()
    {
        App = await StartAsync();
        Http = ApiApp.Client(App);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
