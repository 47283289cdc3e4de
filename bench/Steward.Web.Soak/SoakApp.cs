using System.Globalization;
using Steward.TestSupport;
using Steward.Web.Tests.TestSupport;

namespace Steward.Web.Soak;

/// <summary>
/// The web app for the soak: the browser tests' <see cref="WebAppProcess"/> (the app's own build output as a process on a
/// free loopback port) with the embedded engine on stories260K, a short preset and the circuit retention the soak sets.
/// </summary>
internal sealed class SoakApp : IAsyncDisposable
{
    private readonly WebAppProcess _process;
    private readonly DirectoryInfo _folder;
    private readonly DirectoryInfo _output;

    private SoakApp(WebAppProcess process, DirectoryInfo folder, DirectoryInfo output)
    {
        _process = process;
        _folder = folder;
        _output = output;
    }

    public string BaseUrl => _process.BaseUrl;

    public int ProcessId => _process.ProcessId;

    /// <summary>The repository checkout, where the local tools' manifest is.</summary>
    public static string Repository => RepositoryRoot.Find() ?? throw new InvalidOperationException("Run the soak from the repository (dotnet run --project bench/Steward.Web.Soak).");

    public static async Task<SoakApp> StartAsync(SoakOptions options, DirectoryInfo output)
    {
        var model = TestModelFolder.Find("stories260K.gguf") ?? throw new FileNotFoundException(TestModelFolder.MissingMessage("stories260K.gguf"));
        var folder = Directory.CreateTempSubdirectory("steward-web-soak-app-");
        var agents = Directory.CreateDirectory(Path.Combine(folder.FullName, "agents")).FullName;
        await File.WriteAllTextAsync(Path.Combine(agents, "storyteller.yaml"), $"""
            name: storyteller
            display_name: Storyteller
            description: Tells tiny stories with the embedded engine.
            instructions: Tell a story.
            max_output_tokens: {options.MaxTokens}
            temperature: 0
            """);
        var environment = new Dictionary<string, string>(options.Environment)
        {
            ["STEWARD_DB"] = Path.Combine(folder.FullName, "steward.db"),
            ["STEWARD_MODELS"] = Path.Combine(folder.FullName, "models"),
            ["STEWARD_MODEL"] = model,
            ["Steward__Agents__Directory"] = agents,
            ["Steward__DefaultProvider"] = "local",
            ["Steward__Web__Circuits__DisconnectedCircuitRetentionPeriod"] = options.Retention.ToString("c", CultureInfo.InvariantCulture),
        };
        return new SoakApp(await WebAppProcess.StartAsync(environment, CancellationToken.None), folder, output);
    }

    public async ValueTask DisposeAsync()
    {
        // What the app logged (warnings and worse) is kept beside the dumps.
        await File.WriteAllTextAsync(Path.Combine(_output.FullName, "web-app.log"), _process.Output);
        await _process.DisposeAsync();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // SQLite's files can outlive the process by a moment; the temp folder is cleaned by the OS.
        }
    }
}
