namespace Steward.Tests.TestSupport;

/// <summary>
/// A test of the <c>steward</c> command as a child process: a fake model server, a temporary database and presets
/// folder with the <c>assistant</c> preset, and the environment that points the command at them.
/// </summary>
public abstract class CliProcessTest : IAsyncLifetime
{
    protected FakeModelServer Server { get; private set; } = null!;

    protected DirectoryInfo Folder { get; private set; } = null!;

    protected Dictionary<string, string> Env { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Server = await FakeModelServer.StartAsync();
        Folder = Directory.CreateTempSubdirectory("steward-cli-");
        var agents = Directory.CreateDirectory(Path.Combine(Folder.FullName, "agents"));
        await File.WriteAllTextAsync(Path.Combine(agents.FullName, "assistant.yaml"), TestEngine.Preset("assistant"), TestContext.Current.CancellationToken);
        Env = new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(Folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(Folder.FullName, "models"),
            ["Steward__Agents__Directory"] = agents.FullName,
            ["OPENAI_API_KEY"] = TestEngine.ApiKey,
            ["OPENAI_BASE_URL"] = Server.OpenAIUrl,
            ["Steward__Providers__openai__MaxRetries"] = "0",
        };
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Folder.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }
}
