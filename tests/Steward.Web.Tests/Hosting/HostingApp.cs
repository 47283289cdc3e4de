using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Tests.Hosting;

/// <summary>The web app as a process for the hosting tests, with one extra allowed host and origin configured.</summary>
public sealed class HostingApp : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("steward-web-hosts-");

    public WebAppProcess Process { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public int Port => new Uri(Process.BaseUrl).Port;

    public string WebSocketUrl => "ws://" + Process.BaseUrl["http://".Length..];

    public async ValueTask InitializeAsync()
    {
        Process = await WebAppProcess.StartAsync(new Dictionary<string, string>
        {
            ["STEWARD_DB"] = Path.Combine(_folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(_folder.FullName, "models"),
            ["Steward__Agents__Directory"] = Directory.CreateDirectory(Path.Combine(_folder.FullName, "agents")).FullName,
            ["Steward__Web__AllowedHosts"] = "steward.internal.example",
            ["Steward__Web__AllowedOrigins"] = "https://trusted.example",
        }, CancellationToken.None);
        Http = new HttpClient { BaseAddress = new Uri(Process.BaseUrl) };
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's WAL files can outlive the process by a moment.
        }
    }
}
